-- Creates a campaign hash, or reports that it exists.
-- KEYS[1] campaign hash, KEYS[2] campaigns zset
-- ARGV[1] id, ARGV[2] created (ms), ARGV[3..] field, value, ...
-- Returns 'new', 'resume' (it exists and its ingest never finished) or 'exists'.
local ingest = redis.call('HGET', KEYS[1], 'ingest')
if ingest == 'running' then return 'resume' end
if ingest or redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 'new'
