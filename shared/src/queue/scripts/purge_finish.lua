-- Deletes what is left of a campaign being purged: its failed and paused sets, its reasons
-- table, its upload's rejects, its per-minute counters, its hash and its entry in the campaigns
-- index. Call it after every message hash is gone.
-- KEYS[1] campaign hash, KEYS[2] campaigns zset, KEYS[3] failed set, KEYS[4] paused zset,
-- KEYS[5] reasons hash, KEYS[6] rejects hash
-- ARGV[1] campaign id
-- Returns how many keys were deleted, or -1 when the campaign is not being purged.
if not redis.call('HGET', KEYS[1], 'purging') then return -1 end
local n = redis.call('UNLINK', KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
-- The per-minute counters (keys.rs): one hash per hour, each expiring MINUTES_TTL after its
-- last write, so only the hours of that last stretch can still exist.
local hour = math.floor(redis_ms() / 3600000)
for h = hour - math.ceil(MINUTES_TTL / 3600), hour do
  n = n + redis.call('UNLINK', minutes_key(KEYS[1], h))
end
redis.call('ZREM', KEYS[2], ARGV[1])
return n
