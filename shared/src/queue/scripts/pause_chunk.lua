-- Moves a paused campaign's single due entries (`id:row`) for rows [from, to] aside, keeping
-- their scores. Runs (`id:from-to`) cannot be found by row; the claim script moves them aside
-- when they come due, so nothing of a paused campaign is ever claimed either way.
-- KEYS[1] campaign hash, KEYS[2] due zset, KEYS[3] paused zset
-- ARGV[1] campaign id, ARGV[2] from row, ARGV[3] to row
-- Returns how many moved, or -1 when the campaign is no longer paused (stop walking).
if redis.call('HGET', KEYS[1], 'state') ~= 'paused' then return -1 end
local moved = 0
local ref_prefix = message_ref_prefix(ARGV[1])
for row = tonumber(ARGV[2]), tonumber(ARGV[3]) do
  local ref = ref_prefix .. row
  local score = redis.call('ZSCORE', KEYS[2], ref)
  if score then
    redis.call('ZREM', KEYS[2], ref)
    redis.call('ZADD', KEYS[3], score, ref)
    moved = moved + 1
  end
end
return moved
