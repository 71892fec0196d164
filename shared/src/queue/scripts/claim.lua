-- Claims up to n due messages for a worker, within every sender's limits.
-- KEYS[1] due zset, KEYS[2] leases zset
-- ARGV[1] campaign key prefix, ARGV[2] worker id, ARGV[3] n, ARGV[4] now (ms),
-- ARGV[5] lease (ms; the lease expires that long after Redis's TIME, whatever `now` says),
-- ARGV[6] now (RFC 3339),
-- ARGV[7] limits key prefix (`{prefix}:`), ARGV[8] the worker's default rate `mps:burst`
-- (mps 0: unlimited), ARGV[9] the worker's own sender rates `sender=mps:burst,...`,
-- ARGV[10] pair interval (ms, 0: off), ARGV[11] rate lookahead (ms), ARGV[12] tier window (ms),
-- ARGV[13] the providers this worker serves now (`*`: all; else comma-separated, maybe none)
-- Returns {processed, next due score or false, {{ref, due score, not before (ms, 0: any time),
-- {field, value, ...}}, ...}, {rate, pair, tier}}.
-- `processed` counts every row looked at (claimed, deferred, cancelled, or stale) and every
-- entry moved aside, so the caller can tell "nothing due" (0) from "made progress but claimed
-- nothing". The last part counts the rows put off, per reason: each row once, the first time
-- a limit puts it off, not at every claim that looks at it again (a run a rate-limited sender
-- holds back is looked at by every claim until it has gone). The campaign's `put_off_to` is
-- the highest row a rate or tier limit has put off so far; rows up to it were counted before.
--
-- A due entry may be a run of rows (`id:from-to`, written by enqueue): the script takes rows
-- from its low end, at most n claimed (and 4n looked at) in all, and puts the rest of the run
-- back with the same score. Entries of paused campaigns move aside whole; rows of cancelled campaigns are marked
-- cancelled; rows no longer queued (a cancel walk, a purge) are stale and simply dropped.
-- Entries of a provider the worker does not serve now (its key refused, its breaker open) are
-- left in the due set as they were, for the workers that can send them; each costs one unit of
-- work, so the claim stays bounded, and the next due time returned skips them.
--
-- Sender limits (keyed by provider and sender number; see keys.rs) are applied here, at the
-- one place every worker of the fleet takes work from, so they hold across processes and a
-- throttled sender's rows never occupy a worker:
-- - rate: a GCRA schedule in `gcra:{provider}:{sender}` (its theoretical arrival time, ms).
--   Each claimed row takes the sender's next slot, returned as `not before`; the worker sends
--   at that time. Slots are handed out at most `lookahead` ms ahead; when the next slot is
--   further away, the rest of the run goes back due at that slot (less the lookahead).
-- - pair: at most one message per recipient and sender per interval (`pair:...`, a sorted set
--   of recipients by when each may get the next one); a row that would break it is due again
--   then. (A sorted set per sender, not a key per recipient: creating and expiring a key per
--   message cost Redis about 12 µs per message, a fifth of the whole send.)
-- - tier: at most `tier` unique recipients per sender in any tier window (`tier:...`, a
--   sorted set of recipients by their last claim); at the cap, the rest of the run is due when
--   the oldest recipient leaves the window.
-- A row put off keeps its status `queued` and costs no attempt; its campaign records why in
-- `waiting` and `waiting_until`.
--
-- What the recipients said since their rows were enqueued (queue::delivery) is respected here
-- too, before anything is handed out:
-- - a number on the opt-out list (a STOP reply, a late 131050) ends its row `cancelled` with
--   `error_code` `opted_out`. The list is asked once per call (SMISMEMBER over the rows that
--   passed the limits), not per row, so a campaign pays nothing per row for it; the rare
--   opted-out row has taken its sender's slot by then, which costs a slot, not a request.
-- - a row of an `--only-open-window` campaign (`only_window` = 1) whose recipient has not
--   written within 24 hours (no `window:{provider}:{sender}:{to}` key) ends `failed` with
--   `error_code` `no_window`, before the limits: one EXISTS per row of such campaigns only.
local prefix, worker, now_text = ARGV[1], ARGV[2], ARGV[6]
-- `budget` claims at most, looking at `work` rows at most (rows put off cost work, not budget).
local budget = tonumber(ARGV[3])
local work = budget * 4
local now = tonumber(ARGV[4])
local base = ARGV[7]
local pair_ms = tonumber(ARGV[10])
local lookahead = tonumber(ARGV[11])
local tier_window = tonumber(ARGV[12])
local served = nil
if ARGV[13] and ARGV[13] ~= '*' then
  served = {}
  for p in string.gmatch(ARGV[13], '[^,]+') do served[p] = true end
end
local skipped = 0
local lease_expiry = redis_ms() + tonumber(ARGV[5])
local refs = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[4], 'BYSCORE', 'LIMIT', 0, work, 'WITHSCORES')
local campaigns = {}
local senders = {}
local out = {}
local leases = {}
-- The rows that passed the limits, claimed (or cancelled, if opted out) after the loop, and
-- their message keys: a row stays `queued` until then, so one that two entries cover (which
-- no script writes) must not pass twice.
local passed, taken = {}, {}
local processed = 0
local deferred = {rate = 0, pair = 0, tier = 0}

local function parse_rate(text)
  local mps, burst = string.match(text or '', '^(%d+%.?%d*):(%d+)$')
  if not mps then mps, burst = string.match(text or '', '^(%d+%.?%d*)$'), '1' end
  return tonumber(mps), tonumber(burst)
end

-- The worker's own rates, `sender=mps:burst` pairs: used for senders without a rate in Redis.
local own_rates = {}
for sender, rate in string.gmatch(ARGV[9], '([^,=]+)=([^,]+)') do own_rates[sender] = rate end

-- A campaign's keys (campaign_keys), state and sender, read once per call.
local function campaign(id)
  local c = campaigns[id]
  if c == nil then
    c = campaign_keys(campaigns, prefix, id)
    local f = redis.call('HMGET', c.hash, 'state', 'provider', 'from', 'only_window', 'channel',
      'put_off_to')
    c.state = f[1] or false
    c.put_off_to = tonumber(f[6]) or 0
    c.provider = f[2] or 'seven'
    c.sender = sender_name(f[2] or 'seven', f[3] or '')
    if f[4] == '1' then
      -- The window keys of its recipients: this prefix, then the number.
      c.window = window_key(base, f[2] or 'seven', delivery_sender(f[2], f[3], f[5]), '')
    end
  end
  return c
end

-- A sender's limits and schedule, read once per call and written back at the end.
local function sender(name)
  local s = senders[name]
  if s then return s end
  local cfg = redis.call('HMGET', limit_key(base, name), 'rate', 'burst', 'tier')
  local mps, burst = tonumber(cfg[1]), tonumber(cfg[2] or '1')
  if not mps then
    local number = string.match(name, ':(.*)$')
    mps, burst = parse_rate(own_rates[number] or ARGV[8])
  end
  s = {interval = 0, tier = tonumber(cfg[3]) or 0}
  if mps and mps > 0 then
    s.interval = 1000 / mps
    -- The provider's rate limiting lowered the sender's rate for a while (queue::backoff).
    local factor = backoff_now(backoff_key(base, name), now)
    if factor < 1 then s.interval = s.interval / factor end
    s.tolerance = ((burst or 1) - 1) * s.interval
    s.gcra = gcra_key(base, name)
    s.tat = tonumber(redis.call('GET', s.gcra)) or 0
    s.changed = false
  end
  if s.tier > 0 then
    s.tier_key = tier_key(base, name)
    local cutoff = now - tier_window
    -- Recipients that left the window, a bounded number per call.
    local old = redis.call('ZRANGE', s.tier_key, '-inf', '(' .. cutoff, 'BYSCORE', 'LIMIT', 0, 200)
    if #old > 0 then redis.call('ZREM', s.tier_key, unpack(old)) end
    s.tier_count = redis.call('ZCOUNT', s.tier_key, '(' .. cutoff, '+inf')
  end
  if pair_ms > 0 then
    s.pair = pair_key(base, name)
    -- Recipients whose interval ended, a bounded number per call.
    local old = redis.call('ZRANGE', s.pair, '-inf', now, 'BYSCORE', 'LIMIT', 0, 500)
    if #old > 0 then redis.call('ZREM', s.pair, unpack(old)) end
    -- This call's claims, added in one ZADD at the end.
    s.pair_new, s.pair_adds, s.pair_last = {}, {}, now
  end
  senders[name] = s
  return s
end

-- How many of rows [from, to] a limit puts off for the first time; records them as counted.
local function newly_put_off(c, from, to)
  if to <= c.put_off_to then return 0 end
  local n = to - math.max(from, c.put_off_to + 1) + 1
  c.put_off_to = to
  redis.call('HSET', c.hash, 'put_off_to', to)
  return n
end

local function wait(camp, reason, until_ms)
  redis.call('HSET', camp, 'waiting', reason, 'waiting_until', rfc3339(until_ms))
end

-- A message hash's `status`, `to` and `claims`, from its HGETALL reply, in one pass.
local function status_to_claims(flat)
  local status, to, claims
  for i = 1, #flat, 2 do
    local name = flat[i]
    if name == 'status' then
      status = flat[i + 1]
    elseif name == 'to' then
      to = flat[i + 1]
    elseif name == 'claims' then
      claims = flat[i + 1]
    end
  end
  return status, to, claims
end

for j = 1, #refs, 2 do
  if budget <= 0 or work <= 0 then break end
  local ref, score = refs[j], refs[j + 1]
  -- Removed before anything is put back: a run put off whole goes back under its own name.
  redis.call('ZREM', KEYS[1], ref)
  local id, from, to = parse_entry(ref)
  if not id then
    processed = processed + 1
    work = work - 1
  else
    local c = campaign(id)
    local camp = c.hash
    local state = c.state
    if state == 'paused' then
      redis.call('ZADD', c.paused, score, ref)
      processed = processed + 1
      work = work - 1
    elseif served and state and state ~= 'cancelled' and not served[c.provider] then
      -- Another provider's entry: back as it was (not `processed`: nothing changed).
      redis.call('ZADD', KEYS[1], score, ref)
      skipped = skipped + 1
      work = work - 1
    else
      local live = state and state ~= 'cancelled'
      -- Rows from `back_from` on go back: unchanged when the budget ends, due later when a
      -- limit puts the rest of the run off.
      local back_from, back_score = to + 1, score
      local row = from
      while row <= to do
        if budget <= 0 or work <= 0 then
          back_from = row
          break
        end
        processed = processed + 1
        work = work - 1
        local mkey = c.msg .. row
        -- A row whose message is not queued (or whose campaign is gone) is stale: dropping
        -- its entry is the repair.
        if state == 'cancelled' then
          if redis.call('HGET', mkey, 'status') == 'queued' then
            redis.call('HSET', mkey, 'status', 'cancelled', 'updated_at', now_text)
            move(camp, 'queued', 'cancelled')
          end
        elseif state then
          local flat = redis.call('HGETALL', mkey)
          local status, recipient, claims = status_to_claims(flat)
          recipient = recipient or ''
          if status == 'queued' and c.window and redis.call('EXISTS', c.window .. recipient) == 0 then
            redis.call('HSET', mkey, 'status', 'failed', 'error_code', 'no_window',
              'error', 'no open 24-hour window', 'updated_at', now_text)
            redis.call('SADD', c.failed, row)
            move(camp, 'queued', 'failed')
          elseif status == 'queued' and not taken[mkey] then
            local s = sender(c.sender)
            local put_off = false
            -- Pair limit: this row alone waits for the recipient's key to expire.
            -- The key holds when it frees, on the claimants' clock.
            if pair_ms > 0 then
              local frees = s.pair_new[recipient] or tonumber(redis.call('ZSCORE', s.pair, recipient))
              if frees and frees > now then
                redis.call('ZADD', KEYS[1], frees, c.ref .. row)
                deferred.pair = deferred.pair + 1
                wait(camp, 'pair', frees)
                put_off = true
              end
            end
            -- Tier cap: a recipient new to the window needs room; without it the rest waits.
            local new_recipient = false
            if not put_off and s.tier > 0 then
              local seen = tonumber(redis.call('ZSCORE', s.tier_key, recipient))
              new_recipient = not seen or seen <= now - tier_window
              if new_recipient and s.tier_count >= s.tier then
                local oldest = redis.call('ZRANGE', s.tier_key, '(' .. (now - tier_window), '+inf', 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
                local opens = math.max(now + 1, (tonumber(oldest[2]) or now) + tier_window + 1)
                back_from, back_score = row, opens
                deferred.tier = deferred.tier + newly_put_off(c, row, to)
                wait(camp, 'tier', opens)
                break
              end
            end
            -- Rate: the sender's next slot, if it comes within the lookahead.
            local slot = now
            if not put_off and s.interval > 0 then
              slot = math.max(now, s.tat - s.tolerance)
              if slot > now + lookahead then
                back_from, back_score = row, math.floor(slot - lookahead)
                deferred.rate = deferred.rate + newly_put_off(c, row, to)
                wait(camp, 'rate', back_score)
                break
              end
              s.tat = math.max(s.tat, slot) + s.interval
              s.changed = true
            end
            if not put_off then
              if new_recipient then
                s.tier_count = s.tier_count + 1
              end
              if s.tier > 0 then
                redis.call('ZADD', s.tier_key, now, recipient)
              end
              if pair_ms > 0 then
                local frees = math.ceil(slot + pair_ms)
                s.pair_new[recipient] = frees
                s.pair_adds[#s.pair_adds + 1] = frees
                s.pair_adds[#s.pair_adds + 1] = recipient
                s.pair_last = math.max(s.pair_last, frees)
              end
              if state ~= 'running' then
                redis.call('HSET', camp, 'state', 'running')
                redis.call('HSETNX', camp, 'started_at', now_text)
                state = 'running'
                c.state = state
              end
              budget = budget - 1
              -- `not before` is 0 for a sender without a rate: no slot to keep.
              local not_before = s.interval > 0 and string.format('%d', math.ceil(slot)) or '0'
              taken[mkey] = true
              passed[#passed + 1] = {c = c, row = row, mkey = mkey, to = recipient,
                score = score, not_before = not_before, claims = claims, flat = flat}
            end
          end
        end
        row = row + 1
      end
      -- The rest of the run goes back only for a live campaign: a cancelled one's queued
      -- rows are the cancel walk's, and a vanished one's entries are stale.
      if live and back_from <= to then
        redis.call('ZADD', KEYS[1], back_score, run_entry(c.ref, back_from, to))
      end
    end
  end
end
-- Which of them opted out: one SMISMEMBER per 1,000 rows (Lua's unpack is limited to a few
-- thousand values), and a claim takes fewer.
local opted = {}
for first = 1, #passed, 1000 do
  local tos = {}
  for j = first, math.min(#passed, first + 999) do tos[#tos + 1] = passed[j].to end
  local member = redis.call('SMISMEMBER', optout_key(base), unpack(tos))
  for j = 1, #member do opted[first + j - 1] = member[j] == 1 end
end
for j = 1, #passed do
  local p = passed[j]
  local camp = p.c.hash
  if opted[j] then
    redis.call('HSET', p.mkey, 'status', 'cancelled', 'error_code', 'opted_out',
      'error', 'the number is on the opt-out list', 'updated_at', now_text)
    move(camp, 'queued', 'cancelled')
  else
    local single = p.c.ref .. p.row
    -- The claim number is counted in the same HSET (one Redis call less per row than an
    -- HINCRBY): the script holds Redis, so nothing changes it in between.
    local claims = (tonumber(p.claims) or 0) + 1
    redis.call('HSET', p.mkey, 'status', 'claimed', 'worker', worker, 'updated_at', now_text, 'claims', claims)
    leases[#leases + 1] = lease_expiry
    leases[#leases + 1] = single
    move(camp, 'queued', 'claimed')
    out[#out + 1] = {single, p.score, p.not_before, claims, p.flat}
  end
end
for _, s in pairs(senders) do
  if s.pair_adds and #s.pair_adds > 0 then
    redis.call('ZADD', s.pair, unpack(s.pair_adds))
    -- Gone a second after its last recipient frees: an idle sender leaves nothing behind.
    redis.call('PEXPIRE', s.pair, s.pair_last - now + 1000)
  end
  if s.changed then
    -- The key outlives the schedule it holds; once it is gone the sender is idle anyway.
    redis.call('SET', s.gcra, string.format('%.3f', s.tat), 'PX', math.floor(s.tat - now) + 60000)
  end
end
if #leases > 0 then redis.call('ZADD', KEYS[2], unpack(leases)) end
apply_deltas(now_text)
local nxt = redis.call('ZRANGE', KEYS[1], 0, skipped, 'WITHSCORES')
local next_due = false
for j = 1, #nxt, 2 do
  -- The first entry this worker would take (its campaign read once above, or now).
  local id = parse_entry(nxt[j])
  local c = id and campaign(id)
  if not (served and c and not served[c.provider]) then
    next_due = nxt[j + 1]
    break
  end
end
return {processed, next_due, out, {deferred.rate, deferred.pair, deferred.tier}}
