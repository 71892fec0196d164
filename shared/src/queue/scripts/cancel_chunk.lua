-- Cancels a cancelled campaign's queued messages for rows [from, to].
-- KEYS[1] campaign hash, KEYS[2] due zset, KEYS[3] paused zset
-- ARGV[1] campaign id, ARGV[2] from row, ARGV[3] to row, ARGV[4] message key prefix,
-- ARGV[5] now (RFC 3339)
-- Claimed and sending messages are left to their workers, whose next call records them
-- cancelled (or sent, if they were). Returns how many were cancelled.
local now = ARGV[5]
local ref_prefix = message_ref_prefix(ARGV[1])
local n = 0
for row = tonumber(ARGV[2]), tonumber(ARGV[3]) do
  local mkey = ARGV[4] .. row
  if redis.call('HGET', mkey, 'status') == 'queued' then
    local ref = ref_prefix .. row
    redis.call('ZREM', KEYS[2], ref)
    redis.call('ZREM', KEYS[3], ref)
    redis.call('HSET', mkey, 'status', 'cancelled', 'updated_at', now)
    move(KEYS[1], 'queued', 'cancelled')
    n = n + 1
  end
end
apply_deltas(now)
-- The last queued message may just have gone while every other one was already final.
maybe_complete(KEYS[1], now)
return n
