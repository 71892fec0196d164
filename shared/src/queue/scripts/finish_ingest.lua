-- Marks a campaign's ingest finished and completes it if nothing is left to send.
-- KEYS[1] campaign hash
-- ARGV[1] rejected rows, ARGV[2] now (RFC 3339)
-- Returns the campaign's state afterwards, or false when it does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'ingest', 'done', 'rejected', ARGV[1])
maybe_complete(KEYS[1], ARGV[2])
return redis.call('HGET', KEYS[1], 'state')
