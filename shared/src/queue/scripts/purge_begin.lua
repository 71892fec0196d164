-- Marks a finished campaign as being purged (`purging`), after checking that it may be.
-- KEYS[1] campaign hash
-- ARGV[1] '1' to allow a paused campaign (--force), ARGV[2] now (RFC 3339)
-- Completed and cancelled campaigns may be purged; paused ones only with ARGV[1] and once their
-- enqueue finished. Messages in flight (claimed, sending) must be recorded first. A purge that
-- was interrupted (`purging` set) may always go on.
-- Returns {'ok', rows}, {'refused', state}, {'ingest', state}, {'in_flight', n}, or false when
-- the campaign does not exist.
local c = redis.call('HMGET', KEYS[1], 'state', 'rows', 'claimed', 'sending', 'purging', 'ingest')
local state = c[1]
if not state then return false end
if not c[5] then
  if state == 'paused' and ARGV[1] == '1' then
    if c[6] ~= 'done' then return {'ingest', state} end
  elseif state ~= 'completed' and state ~= 'cancelled' then
    return {'refused', state}
  end
  local busy = (tonumber(c[3]) or 0) + (tonumber(c[4]) or 0)
  if busy > 0 then return {'in_flight', string.format('%d', busy)} end
  redis.call('HSET', KEYS[1], 'purging', ARGV[2])
end
return {'ok', string.format('%d', tonumber(c[2] or '0') or 0)}
