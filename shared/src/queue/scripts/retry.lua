-- Puts a claimed or sending message back in the queue for a later attempt.
-- KEYS[1] message hash, KEYS[2] campaign hash, KEYS[3] leases zset, KEYS[4] due zset,
-- KEYS[5] paused zset
-- ARGV[1] worker, ARGV[2] claim number, ARGV[3] ref, ARGV[4] due (ms), ARGV[5] reason,
-- ARGV[6] '1' when a provider attempt was made ('2': none, it missed its rate slot, counted in
-- `missed_slots`), ARGV[7] now (RFC 3339), ARGV[8] next attempt
-- (RFC 3339), ARGV[9] wake channel
-- Returns 'queued', 'cancelled' (the campaign was cancelled meanwhile) or false (not this
-- claim's any more).
local m = redis.call('HMGET', KEYS[1], 'status', 'worker', 'claims', 'error_ref')
local from = m[1]
if (from ~= 'claimed' and from ~= 'sending') or not owned(m, ARGV[1], ARGV[2]) then return false end
local now = ARGV[7]
-- A reason longer than 64 bytes is kept whole in the campaign's reasons table (keep_reason).
local reason, reason_ref = keep_reason(KEYS[2], ARGV[5], nil)
if reason_ref then
  redis.call('HSET', KEYS[1], 'error_ref', reason_ref)
elseif m[4] then
  redis.call('HDEL', KEYS[1], 'error_ref')
end
local state = redis.call('HGET', KEYS[2], 'state')
redis.call('ZREM', KEYS[3], ARGV[3])
if ARGV[6] == '1' then
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  redis.call('HINCRBY', KEYS[2], 'retries', 1)
elseif ARGV[6] == '2' then
  redis.call('HINCRBY', KEYS[1], 'missed_slots', 1)
end
if state == 'cancelled' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'updated_at', now, 'error', reason)
  move(KEYS[2], from, 'cancelled')
  apply_deltas(now)
  return 'cancelled'
end
redis.call('HSET', KEYS[1], 'status', 'queued', 'updated_at', now, 'error', reason,
  'next_attempt_at', ARGV[8])
redis.call('HDEL', KEYS[1], 'worker')
if state == 'paused' then
  redis.call('ZADD', KEYS[5], ARGV[4], ARGV[3])
else
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
  redis.call('PUBLISH', ARGV[9], ARGV[4])
end
move(KEYS[2], from, 'queued')
apply_deltas(now)
return 'queued'
