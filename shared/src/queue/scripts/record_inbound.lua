-- Records an inbound message: a recipient wrote to one of our senders (queue::delivery).
-- KEYS[1] unmatched list
-- ARGV[1] campaign key prefix, ARGV[2] key prefix (`{prefix}:`), ARGV[3] provider,
-- ARGV[4] our sender (delivery::sender_key), ARGV[5] the writer (digits or a user id),
-- ARGV[6] when it was written (RFC 3339), ARGV[7] '1' if its text opts out, else '0',
-- ARGV[8] the reply window (ms), ARGV[9] the callback as the unmatched list's JSON
-- Returns 'recorded', 'duplicate' or 'unmatched'.
--
-- Writing opens the writer's 24-hour window with this sender (`window:`, which the claim asks
-- for `--only-open-window` campaigns). It is a reply to the last message sent to the writer
-- from this sender (the `last:` index written at send, kept 7 days) if that was sent within
-- the reply window: the message gets `replied_at` once, its campaign `replied`. An opt-out
-- text puts the number on the opt-out list (source `reply`) whether or not a message matches,
-- and the matched message gets `opted_out_at` once, its campaign `opted_out`. An inbound
-- message that matches no message is kept in the unmatched list.
local prefix, base, provider, sender, writer, at = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local optout = ARGV[7] == '1'
redis.call('SET', window_key(base, provider, sender, writer), at, 'EX', 86400)

local now_ms = redis_ms()
local id, row, mkey, camp, m
local ref = redis.call('GET', last_key(base, provider, sender, writer))
if ref then
  id, row = parse_ref(ref)
  if id then
    camp = campaign_key(prefix, id)
    mkey = message_key(camp, row)
    m = redis.call('HMGET', mkey, 'status', 'sent_at', 'replied_at', 'opted_out_at')
    local sent_ms = parse_rfc3339(m[2])
    -- The index outlives a shorter reply window; a message without `sent_at` (an `unknown`
    -- one a report proved sent) counts while the index holds it.
    if not m[1] or (sent_ms and now_ms - sent_ms > tonumber(ARGV[8])) then id = nil end
  end
end

local changed = false
if optout then
  changed = opt_out(base, writer, 'reply', at, id, row)
end
if not id then
  keep_unmatched(KEYS[1], ARGV[9])
  return 'unmatched'
end
if not m[3] then
  redis.call('HSET', mkey, 'replied_at', at)
  move(camp, nil, 'replied')
  changed = true
end
if optout and not m[4] then
  redis.call('HSET', mkey, 'opted_out_at', at)
  move(camp, nil, 'opted_out')
  changed = true
end
apply_deltas(rfc3339(now_ms))
if changed then return 'recorded' end
return 'duplicate'
