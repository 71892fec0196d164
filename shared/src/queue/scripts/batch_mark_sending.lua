-- Marks many claimed messages `sending`: for each message, in order, exactly what
-- mark_sending.lua does, with fewer Redis calls (batch.rs explains why both exist; the batch
-- property test holds them to the same results). A campaign's state is read once: marking never
-- changes it. The leases of the messages marked are extended in one ZADD at the end: no entry
-- of the batch reads the lease set.
-- The counters are written once, at the end: no message of the batch goes back from a final
-- state to an open one, so a campaign complete after some message is complete at the end.
-- KEYS[1] leases zset
-- ARGV[1] campaign key prefix, ARGV[2] lease (ms, from Redis's TIME), ARGV[3] now (ms),
-- ARGV[4] now (RFC 3339), then per message: ref, worker, claim number
-- Returns one answer per message, as mark_sending.lua's: 'send', 'lost', 'cancelled' or
-- 'paused'.
local prefix, now_ms, now = ARGV[1], ARGV[3], ARGV[4]
local expiry = redis_ms() + tonumber(ARGV[2])
local keys_of = {}
local states = {}
local leased = {}
local out = {}
for i = 5, #ARGV, 3 do
  local ref = ARGV[i]
  local id, row = parse_ref(ref)
  local answer = 'lost'
  if id then
    local k = keys_of[id] or campaign_keys(keys_of, prefix, id)
    local camp = k.hash
    local mkey = k.msg .. row
    local m = redis.call('HMGET', mkey, 'status', 'worker', 'claims')
    if m[1] == 'sending' and owned(m, ARGV[i + 1], ARGV[i + 2]) then
      -- Yours already (see mark_sending.lua): asked again after a lost answer.
      leased[#leased + 1] = expiry
      leased[#leased + 1] = ref
      answer = 'send'
    elseif m[1] == 'claimed' and owned(m, ARGV[i + 1], ARGV[i + 2]) then
      local state = states[camp]
      if state == nil then
        state = redis.call('HGET', camp, 'state') or false
        states[camp] = state
      end
      if state == 'cancelled' then
        redis.call('HSET', mkey, 'status', 'cancelled', 'updated_at', now)
        redis.call('ZREM', KEYS[1], ref)
        move(camp, 'claimed', 'cancelled')
        answer = 'cancelled'
      elseif state == 'paused' then
        redis.call('HSET', mkey, 'status', 'queued', 'updated_at', now)
        redis.call('HDEL', mkey, 'worker')
        redis.call('ZREM', KEYS[1], ref)
        redis.call('ZADD', k.paused, now_ms, ref)
        move(camp, 'claimed', 'queued')
        answer = 'paused'
      else
        redis.call('HSET', mkey, 'status', 'sending', 'updated_at', now)
        leased[#leased + 1] = expiry
        leased[#leased + 1] = ref
        move(camp, 'claimed', 'sending')
        answer = 'send'
      end
    end
  end
  out[#out + 1] = answer
end
if #leased > 0 then redis.call('ZADD', KEYS[1], unpack(leased)) end
apply_deltas(now)
return out
