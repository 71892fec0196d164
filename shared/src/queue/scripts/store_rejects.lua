-- Keeps an upload's rejected rows by reason (`rejects.rs`), replacing what an earlier,
-- interrupted run of the same upload kept.
-- KEYS[1] campaign hash, KEYS[2] rejects hash
-- ARGV: pairs of reason code and its JSON (count and first rows); none keeps nothing.
-- Returns 1, or false when the campaign does not exist (purged meanwhile: nothing is written).
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('UNLINK', KEYS[2])
if #ARGV > 0 then redis.call('HSET', KEYS[2], unpack(ARGV)) end
return 1
