-- Records seven's answer to deleting a message it holds until its send time (a cancelled
-- campaign created with a handoff).
-- KEYS[1] message hash, KEYS[2] campaign hash
-- ARGV[1] provider id, ARGV[2] answer (deleted, already_sent, not_found, failed, refused,
-- unknown), ARGV[3] detail or '', ARGV[4] now (RFC 3339)
-- The answer goes to `provider_delete` (with `provider_delete_error`, `provider_delete_at`).
-- Deleted: the message becomes `cancelled`, its price comes off the campaign's `cost`, and a
-- completed campaign becomes cancelled. Any other answer leaves the message `sent`.
-- Returns the message's status afterwards, or false when it is not `sent` with that provider id.
local m = redis.call('HMGET', KEYS[1], 'status', 'provider_id', 'price')
if m[1] ~= 'sent' or m[2] ~= ARGV[1] then return false end
local now = ARGV[4]
redis.call('HSET', KEYS[1], 'provider_delete', ARGV[2], 'provider_delete_at', now)
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'provider_delete_error', ARGV[3])
else
  redis.call('HDEL', KEYS[1], 'provider_delete_error')
end
if ARGV[2] ~= 'deleted' then return 'sent' end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'updated_at', now)
if m[3] then
  local price = m[3]
  if string.sub(price, 1, 1) == '-' then price = string.sub(price, 2) else price = '-' .. price end
  redis.call('HINCRBYFLOAT', KEYS[2], 'cost', price)
end
if redis.call('HGET', KEYS[2], 'state') == 'completed' then
  redis.call('HSET', KEYS[2], 'state', 'cancelled', 'cancelled_at', now)
end
move(KEYS[2], 'sent', 'cancelled')
apply_deltas(now)
return 'cancelled'
