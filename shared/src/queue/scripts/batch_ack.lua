-- Records many messages' terminal outcomes: for each message, in order, exactly what ack.lua
-- does, with fewer Redis calls (batch.rs explains why both exist; the batch property test
-- holds them to the same results). The attempt is counted in the same HSET (its old value read
-- with the owner check), the fields to clear go in one HDEL, a campaign's state is read once
-- (recording never changes it to or from `cancelled`), the leases go in one ZREM at the
-- end (no entry of the batch reads the lease set), fields are deleted only when the owner
-- check's read found them, and a campaign's prices are added to its `cost` once, summed: one
-- HINCRBYFLOAT per campaign instead of one per message (the sum may round differently in the
-- last digits of a double, far below the 1/10000 of a euro prices are given in).
-- The counters are written once, at the end: no message of the batch goes back from a final
-- state to an open one, so a campaign complete after some message is complete at the end.
-- KEYS[1] leases zset
-- A campaign's provider and sender, for the delivery indexes of the messages recorded `sent`
-- (index_sent, as ack.lua), are read once per batch too.
-- ARGV[1] campaign key prefix, ARGV[2] now (RFC 3339), ARGV[3] key prefix (`{prefix}:`), then
-- per message: ref, worker,
-- claim number, outcome, price or '', streak rule or '', n, and n field/value pairs to set
-- A campaign's failure streak is read once per batch and written once at its end (each
-- message counts in it in order, as ack.lua counts; a pause is written when it happens), and a
-- reason the batch already put in its campaign's reasons table is not written again.
-- Returns one answer per message, as ack.lua's (the recorded status, or nil).
local prefix, now, base = ARGV[1], ARGV[2], ARGV[3]
local keys_of = {}
local states = {}
local senders = {}
local costs = {}
local unleased = {}
local streaks = {}
local seen = {}
local out = {}
local i = 4
while i <= #ARGV do
  local ref, wanted, price, rule = ARGV[i], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local n = tonumber(ARGV[i + 6])
  local id, row = parse_ref(ref)
  local answer = false
  if id then
    local k = keys_of[id] or campaign_keys(keys_of, prefix, id)
    local camp = k.hash
    local mkey = k.msg .. row
    local m = redis.call('HMGET', mkey, 'status', 'worker', 'claims', 'attempts',
      'next_attempt_at', 'error', 'error_code', 'to', 'error_ref')
    local from = m[1]
    if owned(m, ARGV[i + 1], ARGV[i + 2])
        and (from == 'claimed' or from == 'sending' or from == 'unknown') then
      local outcome = wanted
      if from == 'claimed' and outcome ~= 'sent' and outcome ~= 'unknown' then
        local state = states[camp]
        if state == nil then
          state = redis.call('HGET', camp, 'state') or false
          states[camp] = state
        end
        -- Nothing was sent and the operator cancelled: that is the outcome they expect.
        if state == 'cancelled' then outcome = 'cancelled' end
      end
      local f = {'status', outcome, 'updated_at', now}
      local reason, code = false, ''
      if outcome == wanted then
        for k = i + 7, i + 6 + 2 * n, 2 do
          f[#f + 1] = ARGV[k]
          f[#f + 1] = ARGV[k + 1]
          if ARGV[k] == 'error' then reason = ARGV[k + 1] end
          if ARGV[k] == 'error_code' then code = ARGV[k + 1] end
        end
      end
      local has_ref = keep_error_field(camp, f, 5, seen)
      -- A request was written from `sending`: count it (the reaper counted it for `unknown`).
      if from == 'sending' then
        f[#f + 1] = 'attempts'
        f[#f + 1] = (tonumber(m[4]) or 0) + 1
      end
      redis.call('HSET', mkey, unpack(f))
      if m[5] or (outcome == 'sent' and (m[6] or m[7] or m[9])) then
        if outcome == 'sent' then
          redis.call('HDEL', mkey, 'next_attempt_at', 'error', 'error_code', 'error_ref')
        else
          redis.call('HDEL', mkey, 'next_attempt_at')
        end
      end
      -- A new error replaces the old one's whole text.
      if m[9] and not has_ref and reason then redis.call('HDEL', mkey, 'error_ref') end
      if outcome == 'sent' or (outcome == 'failed' and rule ~= '') then
        local s = streaks[camp]
        if not s then
          s = streak_of(camp, 'streak_code', 'streak')
          streaks[camp] = s
        end
        if outcome == 'sent' then
          streak_reset(s)
        else
          local limit, template = streak_fail(s, code, rule)
          if limit then
            pause_for_streak(camp, id, code, limit, template, reason or '', false, now)
          end
        end
      end
      if outcome == 'failed' or outcome == 'unknown' then
        redis.call('SADD', k.failed, row)
      elseif from == 'unknown' then
        redis.call('SREM', k.failed, row)
      end
      if outcome == 'sent' then
        if price ~= '' then costs[camp] = (costs[camp] or 0) + tonumber(price) end
        local pid
        for k = i + 7, i + 5 + 2 * n, 2 do
          if ARGV[k] == 'provider_id' then pid = ARGV[k + 1] end
        end
        local sender = senders[camp]
        if not sender then
          sender = delivery_of(camp)
          senders[camp] = sender
        end
        index_sent(base, sender, ref, pid, m[8])
      end
      unleased[#unleased + 1] = ref
      if from ~= outcome then move(camp, from, outcome) end
      answer = outcome
    end
  end
  out[#out + 1] = answer
  i = i + 7 + 2 * n
end
for camp, s in pairs(streaks) do streak_save(camp, s) end
if #unleased > 0 then redis.call('ZREM', KEYS[1], unpack(unleased)) end
for camp, cost in pairs(costs) do
  redis.call('HINCRBYFLOAT', camp, 'cost', string.format('%.17g', cost))
end
apply_deltas(now)
return out
