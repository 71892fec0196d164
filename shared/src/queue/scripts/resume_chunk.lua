-- Moves up to n entries of a campaign's paused set back to the due set, keeping their scores.
-- KEYS[1] campaign hash, KEYS[2] paused zset, KEYS[3] due zset
-- ARGV[1] n, ARGV[2] wake channel
-- Returns how many moved, or -1 when the campaign is paused again or finished (stop walking).
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' and state ~= 'scheduled' then return -1 end
local items = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
if #items == 0 then return 0 end
local zargs, members = {}, {}
for j = 1, #items, 2 do
  zargs[#zargs + 1] = items[j + 1]
  zargs[#zargs + 1] = items[j]
  members[#members + 1] = items[j]
end
redis.call('ZADD', KEYS[3], unpack(zargs))
redis.call('ZREM', KEYS[2], unpack(members))
redis.call('PUBLISH', ARGV[2], items[2])
return #members
