-- Reads a sender's rate backoff factor now (backoff_now): 1 when its rate is whole.
-- KEYS[1] the sender's backoff hash
-- Returns the factor (text).
local factor = backoff_now(KEYS[1], redis_ms())
return string.format('%.6f', factor)
