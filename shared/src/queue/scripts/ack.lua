-- Records a message's terminal outcome.
-- KEYS[1] message hash, KEYS[2] campaign hash, KEYS[3] leases zset, KEYS[4] failed set
-- ARGV[1] worker, ARGV[2] claim number, ARGV[3] ref, ARGV[4] row, ARGV[5] outcome
-- (sent|failed|expired|unknown|cancelled), ARGV[6] now (RFC 3339), ARGV[7] price or '',
-- ARGV[8] key prefix (`{prefix}:`, for the delivery indexes), ARGV[9] the failure's streak
-- rule ('' for none; see streak_fail), ARGV[10..] field, value, ... to set
-- A message recorded `sent` is indexed for its callbacks (index_sent): by its `provider_id`
-- among the fields, and as the last message to its recipient from its sender.
-- An `error` longer than 64 bytes is kept whole in the campaign's reasons table (keep_reason).
-- A recorded failure counts in its campaign's failure streak and `sent` ends it; a streak that
-- reaches its rule's length pauses the campaign (pause_for_streak).
-- Applies from `claimed` or `sending` under this claim, or from `unknown` under this claim
-- (the reaper gave up on the lease while the request was still running: the real outcome
-- replaces the guess). Returns the recorded status, or false when not applied.
local m = redis.call('HMGET', KEYS[1], 'status', 'worker', 'claims', 'to', 'error_ref')
local from = m[1]
if not owned(m, ARGV[1], ARGV[2]) then return false end
if from ~= 'claimed' and from ~= 'sending' and from ~= 'unknown' then return false end
local outcome, now = ARGV[5], ARGV[6]
if from == 'claimed' and outcome ~= 'sent' and outcome ~= 'unknown'
    and redis.call('HGET', KEYS[2], 'state') == 'cancelled' then
  -- Nothing was sent and the operator cancelled: that is the outcome they expect to see.
  outcome = 'cancelled'
end
local f = {'status', outcome, 'updated_at', now}
local reason, code = false, ''
if outcome == ARGV[5] then
  for k = 10, #ARGV do f[#f + 1] = ARGV[k] end
  for k = 5, #f - 1, 2 do
    if f[k] == 'error' then reason = f[k + 1] end
    if f[k] == 'error_code' then code = f[k + 1] end
  end
end
local has_ref = keep_error_field(KEYS[2], f, 5, nil)
redis.call('HSET', KEYS[1], unpack(f))
redis.call('HDEL', KEYS[1], 'next_attempt_at')
-- A new error (or none, once sent) replaces the old one's whole text.
if m[5] and not has_ref and (reason or outcome == 'sent') then
  redis.call('HDEL', KEYS[1], 'error_ref')
end
if outcome == 'sent' then
  redis.call('HDEL', KEYS[1], 'error', 'error_code')
  local pid
  for k = 10, #ARGV - 1, 2 do
    if ARGV[k] == 'provider_id' then pid = ARGV[k + 1] end
  end
  index_sent(ARGV[8], delivery_of(KEYS[2]), ARGV[3], pid, m[4])
end
-- A request was written from `sending`: count it (the reaper counted it for `unknown`).
if from == 'sending' then redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
if outcome == 'failed' or outcome == 'unknown' then
  redis.call('SADD', KEYS[4], ARGV[4])
elseif from == 'unknown' then
  redis.call('SREM', KEYS[4], ARGV[4])
end
if outcome == 'sent' and ARGV[7] ~= '' then
  redis.call('HINCRBYFLOAT', KEYS[2], 'cost', ARGV[7])
end
if outcome == 'sent' or (outcome == 'failed' and ARGV[9] ~= '') then
  local s = streak_of(KEYS[2], 'streak_code', 'streak')
  if outcome == 'sent' then
    streak_reset(s)
  else
    local n, template = streak_fail(s, code, ARGV[9])
    if n then
      pause_for_streak(KEYS[2], parse_ref(ARGV[3]), code, n, template, reason or '', false, now)
    end
  end
  streak_save(KEYS[2], s)
end
redis.call('ZREM', KEYS[3], ARGV[3])
if from ~= outcome then move(KEYS[2], from, outcome) end
apply_deltas(now)
return outcome
