-- Slows a sender the provider rate limited (a 429, or WhatsApp's 130429 / 131056): its rate
-- backoff factor (backoff_now) is halved, at most once a second and down to BACKOFF_FLOOR, and
-- with a `Retry-After` its rate schedule (`gcra:…`, which the claim hands out slots from) is
-- pushed to now + that delay, so that no worker of the fleet claims its rows before.
-- KEYS[1] the sender's backoff hash, KEYS[2] the sender's GCRA key
-- ARGV[1] Retry-After (ms, 0: none)
-- Returns {factor now (text), 1 when this call lowered it else 0}.
local now = redis_ms()
local factor, at = backoff_now(KEYS[1], now)
local lowered = 0
if not at or now - at >= BACKOFF_HOLD_MS then
  factor = math.max(BACKOFF_FLOOR, factor * BACKOFF_CUT)
  redis.call('HSET', KEYS[1], 'factor', string.format('%.6f', factor), 'at', now)
  -- Gone once the factor would be whole again.
  local steps = math.ceil((1 - factor) / BACKOFF_STEP)
  redis.call('PEXPIRE', KEYS[1], (steps + 1) * BACKOFF_STEP_MS)
  lowered = 1
end
local after = tonumber(ARGV[1]) or 0
if after > 0 then
  local tat = tonumber(redis.call('GET', KEYS[2])) or 0
  if tat < now + after then
    redis.call('SET', KEYS[2], string.format('%d', now + after), 'PX', after + 60000)
  end
end
return {string.format('%.6f', factor), lowered}
