-- Extends the leases of messages a worker still holds (its heartbeat).
-- KEYS[1] leases zset
-- ARGV[1] campaign key prefix, ARGV[2] lease (ms; expiries count from Redis's TIME),
-- ARGV[3..] ref, worker, claim number, ...
-- Returns how many leases were extended; the others are no longer this worker's.
local prefix = ARGV[1]
local expiry = redis_ms() + tonumber(ARGV[2])
local keys_of = {}
local extended = 0
for k = 3, #ARGV, 3 do
  local ref, worker, token = ARGV[k], ARGV[k + 1], ARGV[k + 2]
  local id, row = parse_ref(ref)
  if id then
    local k = keys_of[id] or campaign_keys(keys_of, prefix, id)
    local m = redis.call('HMGET', k.msg .. row, 'status', 'worker', 'claims')
    if (m[1] == 'claimed' or m[1] == 'sending') and owned(m, worker, token) then
      redis.call('ZADD', KEYS[1], expiry, ref)
      extended = extended + 1
    end
  end
end
return extended
