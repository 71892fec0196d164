-- Puts failed or unknown messages back in the queue, on the operator's word (`wacast retry`).
-- KEYS[1] campaign hash, KEYS[2] due zset, KEYS[3] campaign's paused zset, KEYS[4] failed set
-- ARGV[1] campaign id, ARGV[2] message key prefix, ARGV[3] now (ms), ARGV[4] now (RFC 3339),
-- ARGV[5] statuses to retry ('failed', 'unknown' or 'failed,unknown'), ARGV[6] error code or
-- '' for any, ARGV[7] wake channel, ARGV[8..] rows (members of the failed set)
-- A message keeps its history: `attempts` stays, its `error`, `error_ref`, `error_code` and
-- status move to `last_error`, `last_error_ref`, `last_error_code` and `last_status`, and it becomes `queued`, due now (set aside
-- when the campaign is paused). A completed campaign runs again: its state goes back to running
-- (scheduled if nothing was ever claimed) and `finished_at` is removed.
-- Returns {requeued, state}; {-1, state} when the campaign refuses it (cancelled, or being
-- purged); false when it does not exist.
local camp = KEYS[1]
local c = redis.call('HMGET', camp, 'state', 'started_at', 'purging')
local state = c[1]
if not state then return false end
if state == 'cancelled' or c[3] then return {-1, state} end
local want_failed = string.find(ARGV[5], 'failed', 1, true) ~= nil
local want_unknown = string.find(ARGV[5], 'unknown', 1, true) ~= nil
local code, now_ms, now = ARGV[6], ARGV[3], ARGV[4]
local target = KEYS[2]
if state == 'paused' then target = KEYS[3] end
local n = 0
local zargs = {}
local ref_prefix = message_ref_prefix(ARGV[1])
for k = 8, #ARGV do
  local row = ARGV[k]
  local mkey = ARGV[2] .. row
  local m = redis.call('HMGET', mkey, 'status', 'error_code', 'error', 'error_ref')
  local status = m[1]
  if status ~= 'failed' and status ~= 'unknown' then
    -- Not failed any more (or gone): a stale member; removing it is the repair.
    redis.call('SREM', KEYS[4], row)
  elseif ((status == 'failed' and want_failed) or (status == 'unknown' and want_unknown))
      and (code == '' or m[2] == code) then
    redis.call('HSET', mkey, 'status', 'queued', 'updated_at', now, 'last_status', status,
      'retried_at', now)
    -- The previous failure's fields, or none: a `last_error` always belongs to `last_status`.
    if m[3] then redis.call('HSET', mkey, 'last_error', m[3]) else redis.call('HDEL', mkey, 'last_error') end
    if m[2] then redis.call('HSET', mkey, 'last_error_code', m[2]) else redis.call('HDEL', mkey, 'last_error_code') end
    -- The whole text of a long `last_error` stays in the reasons table (keep_reason).
    if m[4] then redis.call('HSET', mkey, 'last_error_ref', m[4]) else redis.call('HDEL', mkey, 'last_error_ref') end
    -- Without `worker`, a late answer to an earlier attempt can no longer be recorded over it.
    redis.call('HDEL', mkey, 'error', 'error_code', 'error_ref', 'next_attempt_at', 'worker')
    redis.call('SREM', KEYS[4], row)
    zargs[#zargs + 1] = now_ms
    zargs[#zargs + 1] = ref_prefix .. row
    move(camp, status, 'queued')
    n = n + 1
  end
end
if n > 0 then
  redis.call('ZADD', target, unpack(zargs))
  if state == 'completed' then
    state = 'scheduled'
    if c[2] then state = 'running' end
    redis.call('HSET', camp, 'state', state)
  end
  redis.call('HDEL', camp, 'finished_at')
  if target == KEYS[2] then redis.call('PUBLISH', ARGV[7], now_ms) end
end
apply_deltas(now)
return {n, state}
