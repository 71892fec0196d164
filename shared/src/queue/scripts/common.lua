-- Helpers prepended to every wacast queue script (see queue/scripts.rs).

-- Key names, derived from the prefixes the Rust side passes and spelled exactly as keys.rs
-- spells them (a test in scripts.rs holds the two to the same names). `campaign_prefix` is
-- `Keys::campaign_prefix` (`{prefix}:campaign:`), `limit_prefix` is `Keys::limit_prefix`
-- (`{prefix}:`). Loops derive a campaign's prefixes once per campaign (`campaign_keys`) and add
-- only the row per message: a key costs a message no more than one concatenation.
local function campaign_key(campaign_prefix, id) return campaign_prefix .. id end
local function message_prefix(camp) return camp .. ':msg:' end
local function message_key(camp, row) return message_prefix(camp) .. row end
local function paused_key(camp) return camp .. ':paused' end
local function failed_key(camp) return camp .. ':failed' end
local function reasons_key(camp) return camp .. ':reasons' end
local function limit_key(limit_prefix, sender) return limit_prefix .. 'limit:' .. sender end
local function gcra_key(limit_prefix, sender) return limit_prefix .. 'gcra:' .. sender end
local function pair_key(limit_prefix, sender) return limit_prefix .. 'pair:' .. sender end
local function tier_key(limit_prefix, sender) return limit_prefix .. 'tier:' .. sender end
local function backoff_key(limit_prefix, sender) return limit_prefix .. 'backoff:' .. sender end
-- A message reference in the due and lease sets is `{id}:{row}`: the prefix, then the row.
local function message_ref_prefix(id) return id .. ':' end
local function message_ref(id, row) return message_ref_prefix(id) .. row end
-- The name a sender's limit keys end in (keys::sender_name): `{provider}:{digits}`.
local function sender_name(provider, digits) return provider .. ':' .. digits end

-- The opt-out list and the delivery indexes (keys.rs), under `base` = `limit_prefix`.
local function optout_key(base) return base .. 'optout' end
local function optout_source_key(base) return base .. 'optout:source' end
local function pid_key(base, provider, pid) return base .. 'pid:' .. provider .. ':' .. pid end
local function last_key(base, provider, sender, to)
  return base .. 'last:' .. provider .. ':' .. sender .. ':' .. to
end
local function window_key(base, provider, sender, to)
  return base .. 'window:' .. provider .. ':' .. sender .. ':' .. to
end
local function unmatched_key(base) return base .. 'hooks:unmatched' end
-- The sender side of the reply and window keys (delivery::sender_key): Bird's channel id,
-- seven's sender number.
local function delivery_sender(provider, from, channel)
  if provider == 'bird' and channel then return channel end
  return from or ''
end

-- A campaign's keys: `hash`, `msg` (its message keys' prefix), `paused`, `failed`, `ref` (its
-- message references' prefix). Derived once per campaign and remembered in `cache` (a table
-- of the script's own, by id).
local function campaign_keys(cache, campaign_prefix, id)
  local camp = campaign_key(campaign_prefix, id)
  local k = {hash = camp, msg = message_prefix(camp), paused = paused_key(camp),
    failed = failed_key(camp), ref = message_ref_prefix(id)}
  cache[id] = k
  return k
end

local function parse_ref(ref)
  return string.match(ref, '^(.+):(%d+)$')
end

-- A due entry is a single message (`id:row`) or a run of consecutive rows due at the same time
-- (`id:from-to`), which the enqueue script writes so that an upload costs one sorted-set entry
-- per run instead of one per row. Returns id, from, to (numbers), or nil for a malformed entry.
local function parse_entry(ref)
  local id, from, to = string.match(ref, '^(.+):(%d+)-(%d+)$')
  if id then return id, tonumber(from), tonumber(to) end
  local single, row = string.match(ref, '^(.+):(%d+)$')
  if single then return single, tonumber(row), tonumber(row) end
  return nil
end

-- The due entry for rows [from, to] of the campaign whose references start with `ref_prefix`.
local function run_entry(ref_prefix, from, to)
  if from == to then return ref_prefix .. from end
  return ref_prefix .. from .. '-' .. to
end


-- Unix milliseconds as RFC 3339 in UTC with milliseconds, as the Rust side writes hash times
-- (the days-to-civil-date conversion of Howard Hinnant's `civil_from_days`).
local function rfc3339(ms)
  ms = math.floor(ms)
  local secs = math.floor(ms / 1000)
  local days = math.floor(secs / 86400)
  local sod = secs - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local day = doy - math.floor((153 * mp + 2) / 5) + 1
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400 + (month <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', year, month, day,
    math.floor(sod / 3600), math.floor(sod / 60) % 60, sod % 60, ms % 1000)
end

-- RFC 3339 in UTC (`…Z`, as every time in the hashes is written) as unix milliseconds, or nil
-- (Howard Hinnant's `days_from_civil`, the inverse of the above).
local function parse_rfc3339(text)
  if not text then return nil end
  local y, mo, d, h, mi, s, frac = string.match(text,
    '^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)%.?(%d*)Z$')
  if not y then return nil end
  y, mo = tonumber(y), tonumber(mo)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (mo + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + tonumber(d) - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  local ms = 0
  if frac ~= '' then ms = math.floor(tonumber('0.' .. frac) * 1000 + 0.5) end
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + tonumber(s) * 1000 + ms
end

-- Redis's own time in unix milliseconds: the clock of the decisions no worker's clock may
-- sway (which leases expired, when a lease written now expires). See queue/clock.rs.
local function redis_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Counter changes per campaign hash, applied once at the end of a script so that a script
-- that moves many messages issues one HINCRBY per counter, not one per message.
local deltas = {}

-- Sends and deliveries per minute (keys.rs `{campaign}:minutes:{hour}`), for the console's
-- chart and current rate: `move` notes each message that becomes `sent` and each that counts
-- as `delivered`, and apply_deltas adds them to the hash of the hour it runs in, field
-- `s{minute}` or `d{minute}`. An hour's hash expires a day after its last write, so a campaign
-- keeps at most 25 of them however long it runs.
local MINUTES_TTL = 90000
local function minutes_key(camp, hour) return camp .. ':minutes:' .. hour end
local minute_deltas = {}

local function move(camp, from, to)
  local d = deltas[camp]
  if not d then
    d = {}
    deltas[camp] = d
  end
  if from then d[from] = (d[from] or 0) - 1 end
  if to then d[to] = (d[to] or 0) + 1 end
  if to == 'sent' or to == 'delivered' then
    local m = minute_deltas[camp]
    if not m then
      m = {}
      minute_deltas[camp] = m
    end
    m[to] = (m[to] or 0) + 1
  end
end

-- Takes back a claimed message that was never sent, as its campaign's `state` says: cancelled
-- in a cancelled campaign; otherwise queued again, due at `due_ms`, in the due set `due` or,
-- for a paused campaign, aside in its paused set. `k` is the campaign's keys (campaign_keys).
-- Returns where the message went: 'cancelled', 'paused' or 'due'.
local function unclaim(k, mkey, ref, state, due, due_ms, now)
  if state == 'cancelled' then
    redis.call('HSET', mkey, 'status', 'cancelled', 'updated_at', now)
    move(k.hash, 'claimed', 'cancelled')
    return 'cancelled'
  end
  redis.call('HSET', mkey, 'status', 'queued', 'updated_at', now)
  redis.call('HDEL', mkey, 'worker')
  local place = 'due'
  if state == 'paused' then
    redis.call('ZADD', k.paused, due_ms, ref)
    place = 'paused'
  else
    redis.call('ZADD', due, due_ms, ref)
  end
  move(k.hash, 'claimed', 'queued')
  return place
end

-- A campaign is finished when its ingest is done and no message can change any more on its
-- own (nothing queued, claimed or sending). A cancelled campaign keeps its state; both get
-- `finished_at`.
local function maybe_complete(camp, now)
  local c = redis.call('HMGET', camp, 'ingest', 'queued', 'claimed', 'sending', 'state', 'finished_at')
  if c[1] ~= 'done' or c[6] then return end
  if (tonumber(c[2]) or 0) + (tonumber(c[3]) or 0) + (tonumber(c[4]) or 0) > 0 then return end
  if c[5] ~= 'cancelled' then
    redis.call('HSET', camp, 'state', 'completed', 'finished_at', now)
  else
    redis.call('HSET', camp, 'finished_at', now)
  end
end

local function apply_minutes(now)
  if next(minute_deltas) == nil then return end
  local minute = math.floor((parse_rfc3339(now) or redis_ms()) / 60000)
  for camp, m in pairs(minute_deltas) do
    local key = minutes_key(camp, math.floor(minute / 60))
    local mm = minute % 60
    if m.sent then redis.call('HINCRBY', key, 's' .. mm, m.sent) end
    if m.delivered then redis.call('HINCRBY', key, 'd' .. mm, m.delivered) end
    redis.call('EXPIRE', key, MINUTES_TTL)
  end
  minute_deltas = {}
end

local function apply_deltas(now)
  for camp, d in pairs(deltas) do
    for field, n in pairs(d) do
      if n ~= 0 then redis.call('HINCRBY', camp, field, n) end
    end
    maybe_complete(camp, now)
  end
  deltas = {}
  apply_minutes(now)
end

-- The owner check shared by every call a worker makes about a message it claimed: the
-- worker id and the claim number (the `claims` field, bumped by every claim) must both match,
-- so a worker whose lease was reaped and whose message was claimed again, even by itself,
-- cannot act on the new claim.
local function owned(m, worker, token)
  return m[2] == worker and m[3] == token
end


-- What the ack stores for a message recorded `sent`, so that its callbacks find it: the
-- provider's id → the message, and the recipient → the last message from this sender (for
-- replies). `c` holds the campaign's `provider` and delivery sender; `pid` may be nil.
local PID_TTL = 30 * 86400
local LAST_TTL = 7 * 86400
local function index_sent(base, c, ref, pid, to)
  if pid and pid ~= '' then
    redis.call('SET', pid_key(base, c.provider, pid), ref, 'EX', PID_TTL)
  end
  if to then
    redis.call('SET', last_key(base, c.provider, c.delivery_sender, to), ref, 'EX', LAST_TTL)
  end
end

-- A campaign's provider and delivery sender (delivery_sender), as index_sent needs them.
local function delivery_of(camp)
  local f = redis.call('HMGET', camp, 'provider', 'from', 'channel')
  local provider = f[1] or 'seven'
  return {provider = provider, delivery_sender = delivery_sender(provider, f[2], f[3])}
end

-- Keeps a callback no message matched (its JSON) in the unmatched list: newest first, the
-- last 1,000.
local function keep_unmatched(list, json)
  redis.call('LPUSH', list, json)
  redis.call('LTRIM', list, 0, 999)
end

-- Puts `number` on the opt-out list, with where it came from (`source`, at `at`, through
-- message `row` of campaign `id` when known). The first source stays: a number already on
-- the list keeps the source it has. Returns whether the number is new to the list.
local function opt_out(base, number, source, at, id, row)
  local entry = {source = source, at = at}
  if id then
    entry.campaign = id
    entry.row = tonumber(row)
  end
  local added = redis.call('SADD', optout_key(base), number) == 1
  if added then
    redis.call('HSET', optout_source_key(base), number, cjson.encode(entry))
  else
    redis.call('HSETNX', optout_source_key(base), number, cjson.encode(entry))
  end
  return added
end

-- Whole failure reasons (keys.rs, `{campaign}:reasons`). A message hash stays in Redis's compact
-- listpack encoding only while every value is at most 64 bytes, and a listpack costs a fraction
-- of a hash table; yet a provider's explanation (the template's name, the cause, the fix) is
-- often a few hundred bytes. So a longer reason is kept once per campaign, in its reasons table
-- under `reason_id` (the first 12 hex digits of its SHA-1: 48 bits, no collision among a
-- campaign's few distinct reasons), and the message keeps the id (`error_ref`) and the reason's
-- first 37 bytes and `…` (40 bytes: with the id, less memory than the 64 bytes kept before).
-- A campaign keeps at most REASONS_MAX distinct reasons: a provider that writes something
-- different into every refusal (an id, a timestamp) cannot grow the table with the campaign;
-- past the cap a reason keeps only its beginning.
local REASON_INLINE = 64
local REASON_PREFIX = 37
local REASONS_MAX = 1000

-- `text` cut to at most `max` bytes, on a UTF-8 character boundary.
local function utf8_prefix(text, max)
  if #text <= max then return text end
  local cut = max
  while cut > 0 do
    local b = string.byte(text, cut + 1)
    if b < 128 or b >= 192 then break end
    cut = cut - 1
  end
  return string.sub(text, 1, cut)
end

local function reason_id(text) return string.sub(redis.sha1hex(text), 1, 12) end

-- What a message stores for the reason `text` of campaign `camp`: the text itself when it is
-- short, else its beginning and its id in the campaign's reasons table (written here; `seen`, a
-- table of the calling script's own, saves writing the same reason twice in one call).
-- Returns the text to store in `error` and the id for `error_ref` (false: none).
local function keep_reason(camp, text, seen)
  if #text <= REASON_INLINE then return text, false end
  local id = reason_id(text)
  local key = reasons_key(camp)
  if not (seen and seen[key .. id]) then
    if redis.call('HEXISTS', key, id) == 0 and redis.call('HLEN', key) >= REASONS_MAX then
      return utf8_prefix(text, REASON_INLINE), false
    end
    redis.call('HSET', key, id, text)
    if seen then seen[key .. id] = true end
  end
  return utf8_prefix(text, REASON_PREFIX) .. '…', id
end

-- Rewrites the `error` of a field/value list (`f`, from index `from` on) as keep_reason stores
-- it, adding `error_ref` when the reason went to the table. Returns whether it added one.
local function keep_error_field(camp, f, from, seen)
  for k = from, #f - 1, 2 do
    if f[k] == 'error' then
      local text, id = keep_reason(camp, f[k + 1], seen)
      f[k + 1] = text
      if id then
        f[#f + 1] = 'error_ref'
        f[#f + 1] = id
        return true
      end
      return false
    end
  end
  return false
end

-- Failure streaks (keys.rs: the campaign's `streak_code` and `streak`). A campaign whose
-- messages keep failing with the same error pauses with that error as its reason instead of
-- failing every row. The ack counts, fleet-wide, the failures in a row that share a code: each
-- failure whose rule is not '' counts (one with another code starts a new streak), and `sent`
-- ends the streak; other outcomes leave it. A rule is the number of failures in a row that
-- pauses, with `t` after it when the code is a template-level one (the worker decides both:
-- the queue knows no provider). `s` is the campaign's streak as read by streak_of.
local function streak_of(camp, code_field, count_field)
  local f = redis.call('HMGET', camp, code_field, count_field)
  return {code = f[1] or false, n = tonumber(f[2]) or 0, changed = false,
    code_field = code_field, count_field = count_field}
end

local function streak_save(camp, s)
  if not s.changed then return end
  if s.n > 0 then
    redis.call('HSET', camp, s.code_field, s.code, s.count_field, s.n)
  else
    redis.call('HDEL', camp, s.code_field, s.count_field)
  end
  s.changed = false
end

local function streak_reset(s)
  if s.n > 0 then
    s.code, s.n, s.changed = false, 0, true
  end
end

-- Counts one failure with `code` under `rule`; returns the number of failures in a row that
-- pauses the campaign, and whether the code is template-level, when this one reached it.
local function streak_fail(s, code, rule)
  if rule == '' then return nil end
  if s.code == code then s.n = s.n + 1 else s.code, s.n = code, 1 end
  s.changed = true
  local limit = tonumber(string.match(rule, '^(%d+)'))
  if limit and limit > 0 and s.n >= limit then
    s.code, s.n = false, 0
    return limit, string.sub(rule, -1) == 't'
  end
  return nil
end

-- Pauses campaign `id` (hash `camp`) for a streak of `n` failures with `code`, whose reason
-- (whole) is `reason`, unless it is already paused, cancelled or completed, or has nothing
-- left to send (it is about to complete: a pause would hold nothing back). `late`: the
-- failures came in the providers' callbacks, after the messages were sent.
local function pause_for_streak(camp, id, code, n, template, reason, late, now)
  local c = redis.call('HMGET', camp, 'state', 'ingest', 'queued')
  local state = c[1]
  if state ~= 'running' and state ~= 'scheduled' then return false end
  if c[2] == 'done' and (tonumber(c[3]) or 0) <= 0 then return false end
  local what
  if late then
    what = string.format('%d sent messages in a row were reported failed with code %s', n, code)
  else
    what = string.format('%d messages in a row failed with code %s', n, code)
  end
  local fix
  if template then
    fix = 'fix or re-approve the template, then `wacast resume ' .. id .. '`'
  else
    fix = 'fix the cause, then `wacast resume ' .. id .. '`'
  end
  if not late then
    fix = fix .. '; `wacast retry ' .. id .. ' --status failed --code ' .. code ..
      '` re-queues the failed rows'
  end
  local kind = ''
  if template then kind = ' (template-level: every message with this template fails alike)' end
  redis.call('HSET', camp, 'state', 'paused', 'paused_at', now,
    'pause_reason', what .. kind .. ': ' .. reason .. ' — ' .. fix)
  return true
end

-- A sender's rate backoff after the provider's rate limiting (queue::backoff, keys.rs
-- `backoff:{provider}:{sender}`): `factor` is the share of its rate left, lowered at most
-- once a second (the 429s of requests already in flight are one signal, not many) and
-- recovered by BACKOFF_STEP of the rate every BACKOFF_STEP_MS since the last decrease.
local BACKOFF_CUT = 0.5
local BACKOFF_FLOOR = 1 / 16
local BACKOFF_STEP = 0.1
local BACKOFF_STEP_MS = 5000
local BACKOFF_HOLD_MS = 1000

-- The sender's factor at `now` (ms; 1: its whole rate) and when it was last lowered (or nil).
local function backoff_now(key, now)
  local f = redis.call('HMGET', key, 'factor', 'at')
  local factor, at = tonumber(f[1]), tonumber(f[2])
  if not factor or not at then return 1, nil end
  local steps = math.floor(math.max(0, now - at) / BACKOFF_STEP_MS)
  return math.min(1, factor + steps * BACKOFF_STEP), at
end
