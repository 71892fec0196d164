-- Changes a campaign's state for pause, resume or cancel (the chunked walks follow).
-- KEYS[1] campaign hash
-- ARGV[1] action (pause|resume|cancel), ARGV[2] now (RFC 3339), ARGV[3] pause reason or ''
-- Returns {'ok', rows} or {'refused', state}, or false when the campaign does not exist.
local c = redis.call('HMGET', KEYS[1], 'state', 'rows', 'started_at')
local state = c[1]
if not state then return false end
local action, now = ARGV[1], ARGV[2]
local rows = tonumber(c[2] or '0') or 0
if state == 'completed' then return {'refused', state} end
if action == 'cancel' then
  if state ~= 'cancelled' then
    redis.call('HSET', KEYS[1], 'state', 'cancelled', 'cancelled_at', now)
    redis.call('HDEL', KEYS[1], 'pause_reason')
  end
  return {'ok', string.format('%d', rows)}
end
if state == 'cancelled' then return {'refused', state} end
if action == 'pause' then
  redis.call('HSET', KEYS[1], 'state', 'paused', 'paused_at', now)
  if ARGV[3] ~= '' then
    redis.call('HSET', KEYS[1], 'pause_reason', ARGV[3])
  else
    redis.call('HDEL', KEYS[1], 'pause_reason')
  end
  return {'ok', string.format('%d', rows)}
end
-- resume
if state == 'paused' then
  local to = 'scheduled'
  if c[3] then to = 'running' end
  redis.call('HSET', KEYS[1], 'state', to)
  redis.call('HDEL', KEYS[1], 'paused_at', 'pause_reason')
end
return {'ok', string.format('%d', rows)}
