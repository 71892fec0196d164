-- Marks a claimed message `sending`, just before its request is written.
-- KEYS[1] message hash, KEYS[2] campaign hash, KEYS[3] leases zset, KEYS[4] paused zset
-- ARGV[1] worker, ARGV[2] claim number, ARGV[3] ref, ARGV[4] lease (ms; it expires that long
-- after Redis's TIME, whatever the caller's clock says), ARGV[5] now (ms), ARGV[6] now (RFC 3339)
-- Returns 'send', 'lost' (not this claim's any more: do not send), 'cancelled' or 'paused'
-- (the campaign changed since the claim; the message was recorded accordingly).
-- A message already `sending` under this very claim answers 'send' again ("yours already"):
-- the worker asks again when the first answer was lost on the way, and the request has not
-- been written yet (it is written only after an answer).
local m = redis.call('HMGET', KEYS[1], 'status', 'worker', 'claims')
if m[1] == 'sending' and owned(m, ARGV[1], ARGV[2]) then
  redis.call('ZADD', KEYS[3], redis_ms() + tonumber(ARGV[4]), ARGV[3])
  return 'send'
end
if m[1] ~= 'claimed' or not owned(m, ARGV[1], ARGV[2]) then return 'lost' end
local now = ARGV[6]
local state = redis.call('HGET', KEYS[2], 'state')
if state == 'cancelled' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'updated_at', now)
  redis.call('ZREM', KEYS[3], ARGV[3])
  move(KEYS[2], 'claimed', 'cancelled')
  apply_deltas(now)
  return 'cancelled'
end
if state == 'paused' then
  redis.call('HSET', KEYS[1], 'status', 'queued', 'updated_at', now)
  redis.call('HDEL', KEYS[1], 'worker')
  redis.call('ZREM', KEYS[3], ARGV[3])
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[3])
  move(KEYS[2], 'claimed', 'queued')
  apply_deltas(now)
  return 'paused'
end
redis.call('HSET', KEYS[1], 'status', 'sending', 'updated_at', now)
redis.call('ZADD', KEYS[3], redis_ms() + tonumber(ARGV[4]), ARGV[3])
move(KEYS[2], 'claimed', 'sending')
apply_deltas(now)
return 'send'
