-- Handles up to max expired leases.
-- KEYS[1] leases zset, KEYS[2] due zset
-- ARGV[1] campaign key prefix, ARGV[2] how far ahead of Redis's time to look (ms; 0, except in
-- tests that reap as if later), ARGV[3] max, ARGV[4] now (RFC 3339), ARGV[5] wake channel
-- Which leases expired is decided by Redis's own clock (TIME), never by the caller's: a worker
-- whose clock runs ahead cannot reap a live worker's leases.
-- A message still `claimed` was never sent: it goes back to the due set now (or aside, or
-- cancelled, as its campaign's state says). One still `sending` may have reached the provider:
-- it becomes `unknown`, keeping its worker and claim so that a late answer can still be
-- recorded by that worker. Returns {requeued, unknown, cancelled, stale}.
local prefix, now = ARGV[1], ARGV[4]
local now_ms = redis_ms() + tonumber(ARGV[2])
local refs = redis.call('ZRANGE', KEYS[1], '-inf', now_ms, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
local keys_of = {}
local states = {}
local requeued, unknown, cancelled, stale, woke = 0, 0, 0, 0, false
for _, ref in ipairs(refs) do
  local id, row = parse_ref(ref)
  local status = false
  local k, mkey
  if id then
    k = keys_of[id] or campaign_keys(keys_of, prefix, id)
    mkey = k.msg .. row
    status = redis.call('HGET', mkey, 'status')
  end
  if status == 'claimed' then
    local state = states[id]
    if state == nil then
      state = redis.call('HGET', k.hash, 'state') or false
      states[id] = state
    end
    local place = unclaim(k, mkey, ref, state, KEYS[2], now_ms, now)
    if place == 'cancelled' then
      cancelled = cancelled + 1
    else
      if place == 'due' then woke = true end
      requeued = requeued + 1
    end
  elseif status == 'sending' then
    redis.call('HSET', mkey, 'status', 'unknown', 'updated_at', now,
      'error', 'lease expired while sending: the provider may have sent it')
    redis.call('HINCRBY', mkey, 'attempts', 1)
    redis.call('SADD', k.failed, row)
    move(k.hash, 'sending', 'unknown')
    unknown = unknown + 1
  else
    stale = stale + 1
  end
end
if #refs > 0 then redis.call('ZREM', KEYS[1], unpack(refs)) end
apply_deltas(now)
if woke then redis.call('PUBLISH', ARGV[5], now_ms) end
return {requeued, unknown, cancelled, stale}
