-- Returns claimed messages that a stopping worker will not send to the due set.
-- KEYS[1] due zset, KEYS[2] leases zset
-- ARGV[1] campaign key prefix, ARGV[2] now (ms), ARGV[3] now (RFC 3339), ARGV[4] wake
-- channel, ARGV[5..] ref, worker, claim number, ...
-- Only messages still `claimed` under the given claim move; returns how many did.
local prefix, now_ms, now = ARGV[1], ARGV[2], ARGV[3]
local keys_of = {}
local released, woke = 0, false
for k = 5, #ARGV, 3 do
  local ref, worker, token = ARGV[k], ARGV[k + 1], ARGV[k + 2]
  local id, row = parse_ref(ref)
  if id then
    local k = keys_of[id] or campaign_keys(keys_of, prefix, id)
    local mkey = k.msg .. row
    local m = redis.call('HMGET', mkey, 'status', 'worker', 'claims')
    if m[1] == 'claimed' and owned(m, worker, token) then
      local state = redis.call('HGET', k.hash, 'state')
      redis.call('ZREM', KEYS[2], ref)
      if unclaim(k, mkey, ref, state, KEYS[1], now_ms, now) == 'due' then woke = true end
      released = released + 1
    end
  end
end
apply_deltas(now)
if woke then redis.call('PUBLISH', ARGV[4], now_ms) end
return released
