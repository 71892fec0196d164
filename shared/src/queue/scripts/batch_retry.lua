-- Puts many messages back in the queue for a later attempt (retry.lua for each, in order).
-- KEYS[1] leases zset, KEYS[2] due zset
-- ARGV[1] campaign key prefix, ARGV[2] now (RFC 3339), ARGV[3] wake channel, then per
-- message: ref, worker, claim number, due (ms), reason, '1' when a provider attempt was made,
-- next attempt (RFC 3339)
-- Returns one answer per message, as retry.lua's ('queued', 'cancelled' or nil).
local prefix, now = ARGV[1], ARGV[2]
local keys_of = {}
local out = {}
for i = 4, #ARGV, 7 do
  local ref = ARGV[i]
  local id, row = parse_ref(ref)
  local answer = false
  if id then
    local k = keys_of[id] or campaign_keys(keys_of, prefix, id)
    answer = one({k.msg .. row, k.hash, KEYS[1], KEYS[2], k.paused},
      {ARGV[i + 1], ARGV[i + 2], ref, ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], now,
       ARGV[i + 6], ARGV[3]})
  end
  out[#out + 1] = answer
end
apply_batch_deltas(now)
return out
