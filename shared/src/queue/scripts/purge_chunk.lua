-- Deletes the message hashes of a campaign being purged for rows [from, to], and any lease
-- entry left of them (due entries, which may cover runs of rows, go by a scan of the due set).
-- KEYS[1] campaign hash, KEYS[2] leases zset
-- ARGV[1] campaign id, ARGV[2] message key prefix, ARGV[3] from row, ARGV[4] to row
-- Returns how many message hashes were deleted, or -1 when the campaign is not being purged.
if not redis.call('HGET', KEYS[1], 'purging') then return -1 end
local n = 0
local refs = {}
local ref_prefix = message_ref_prefix(ARGV[1])
for row = tonumber(ARGV[3]), tonumber(ARGV[4]) do
  n = n + redis.call('UNLINK', ARGV[2] .. row)
  refs[#refs + 1] = ref_prefix .. row
end
if #refs > 0 then redis.call('ZREM', KEYS[2], unpack(refs)) end
return n
