-- Records a provider's status report about a sent message (queue::delivery).
-- KEYS[1] due zset, KEYS[2] unmatched list
-- ARGV[1] campaign key prefix, ARGV[2] key prefix (`{prefix}:`), ARGV[3] provider,
-- ARGV[4] reference campaign or '', ARGV[5] reference row or '', ARGV[6] provider id or '',
-- ARGV[7] status (delivered|read|failed), ARGV[8] when it happened (RFC 3339),
-- ARGV[9] error code or '', ARGV[10] error or '', ARGV[11] price or '',
-- ARGV[12] how long after a 131049 the row is due again (ms), ARGV[13] the callback as the
-- unmatched list's JSON, ARGV[14] the failure's streak rule ('' for none; see streak_fail),
-- ARGV[15] the code the streak counts (WhatsApp's, read from the code or the error)
-- Returns {answer, sent_at}: the answer 'recorded', 'duplicate' or 'unmatched', and the
-- message's `sent_at` when this report recorded its delivery for the first time ('' else), for
-- the delivery latency histogram.
--
-- The message is found by our reference, else by the provider's id (the `pid:` index written
-- at send); none is kept in the unmatched list. Reports are ordered by meaning, not arrival,
-- and recording one twice changes nothing:
-- - `delivered` sets `delivery` = delivered and `delivered_at`, unless delivered or read.
-- - `read` sets `delivery` = read and `read_at`, and counts `delivered` too (with
--   `delivered_at`) if that never came; `delivered` after `read` is old news.
-- - `failed` records the late failure (`delivery_error_code`, `delivery_error`) unless the
--   message was delivered or read; a delivered or read report after a failure replaces it
--   (the message did arrive), so the end is the same in any order.
-- - Any report about a message still `unknown` proves it was sent: it becomes `sent`.
-- - A late 131049 (the recipient's marketing limit) puts a sent row back in the queue, due
--   after the delay, if that is before the row's expiry and the campaign is not cancelled; its
--   price leaves the campaign's cost (the resend brings its own). Otherwise it stays failed.
--   131050 (the recipient stopped marketing) opts the number out.
-- - A late failure with a streak rule (a template-level code) counts in the campaign's late
--   failure streak (`late_streak_code`, `late_streak`), which a delivered or read report ends;
--   a streak that reaches its rule's length pauses the campaign (pause_for_streak).
-- - A price replaces the message's and moves the campaign's `cost` by the difference.
-- A report about an earlier send of a row that 131049 put back (its row queued or claimed
-- again, or sending again under the old provider id, or sent again under a new one) is old
-- news: it changes nothing.
local prefix, base, provider = ARGV[1], ARGV[2], ARGV[3]
local id, row, pid = ARGV[4], ARGV[5], ARGV[6]
local report, at, code, price = ARGV[7], ARGV[8], ARGV[9], ARGV[11]

local fields = {'status', 'delivery', 'provider_id', 'price', 'to', 'delivered_at',
  'deferred', 'send_at', 'ttl', 'opted_out_at', 'sent_at'}
local k, mkey, m
local function find(cid, crow)
  if not cid or cid == '' then return false end
  k = campaign_keys({}, prefix, cid)
  mkey = k.msg .. crow
  m = redis.call('HMGET', mkey, unpack(fields))
  return m[1] ~= false
end
local found = find(id, row)
if not found and pid ~= '' then
  local ref = redis.call('GET', pid_key(base, provider, pid))
  if ref then
    id, row = parse_ref(ref)
    found = find(id, row)
  end
end
if not found then
  keep_unmatched(KEYS[2], ARGV[13])
  return {'unmatched', ''}
end

local camp = k.hash
local status, cur, stored_pid = m[1], m[2], m[3]
if status == 'queued' or status == 'claimed'
    or (pid ~= '' and stored_pid and stored_pid ~= pid)
    or (status == 'sending' and m[7] and pid ~= '' and stored_pid == pid) then
  return {'duplicate', ''}
end

local now_ms = redis_ms()
local now = rfc3339(now_ms)
local changed = false
if status == 'unknown' then
  redis.call('HSET', mkey, 'status', 'sent', 'updated_at', now)
  redis.call('HDEL', mkey, 'error', 'error_code', 'error_ref')
  redis.call('SREM', k.failed, row)
  move(camp, 'unknown', 'sent')
  status = 'sent'
  -- Indexed as the ack would have: its replies and later reports find it.
  if pid ~= '' and not stored_pid then redis.call('HSET', mkey, 'provider_id', pid) end
  index_sent(base, delivery_of(camp), message_ref(id, row), pid, m[5])
  changed = true
end

-- Undoes a recorded failure, which a delivered or read report replaces.
local function clear_failure()
  redis.call('HDEL', mkey, 'delivery_error_code', 'delivery_error')
  move(camp, 'delivery_failed', nil)
end

-- The row's expiry (send time + ttl) in ms: its own overrides, else its campaign's.
local function expiry_ms()
  local c = redis.call('HMGET', camp, 'send_at', 'ttl')
  local send_at = parse_rfc3339(m[8] or c[1])
  local ttl = tonumber(m[9] or c[2])
  if not send_at or not ttl then return nil end
  return send_at + ttl * 60000
end

-- A late 131049: the row goes back in the queue, due after the delay, while its ttl allows.
-- Returns whether it did.
local function defer()
  if status ~= 'sent' then return false end
  local due_ms = now_ms + tonumber(ARGV[12])
  local expires = expiry_ms()
  if not expires or due_ms >= expires then return false end
  local state = redis.call('HGET', camp, 'state')
  if state == 'cancelled' then return false end
  redis.call('HSET', mkey, 'status', 'queued', 'updated_at', now,
    'deferred', (tonumber(m[7]) or 0) + 1)
  redis.call('HDEL', mkey, 'price', 'worker', 'next_attempt_at')
  if tonumber(m[4]) then
    redis.call('HINCRBYFLOAT', camp, 'cost', string.format('%.17g', -tonumber(m[4])))
  end
  local ref = message_ref(id, row)
  if state == 'paused' then
    redis.call('ZADD', k.paused, due_ms, ref)
  else
    redis.call('ZADD', KEYS[1], due_ms, ref)
  end
  -- The campaign has a row to send again: it is not finished.
  if state == 'completed' then redis.call('HSET', camp, 'state', 'running') end
  redis.call('HDEL', camp, 'finished_at')
  move(camp, 'sent', 'queued')
  move(camp, nil, 'deferred')
  return true
end

local deferred = false
-- The send time of a message delivered by this report, for the latency histogram.
local delivered_after = ''
if report == 'delivered' then
  if cur ~= 'delivered' and cur ~= 'read' then
    delivered_after = m[11] or ''
    redis.call('HSET', mkey, 'delivery', 'delivered', 'delivered_at', at)
    move(camp, nil, 'delivered')
    if cur == 'failed' then clear_failure() end
    changed = true
  end
elseif report == 'read' then
  if cur ~= 'read' then
    redis.call('HSET', mkey, 'delivery', 'read', 'read_at', at)
    move(camp, nil, 'read')
    if cur ~= 'delivered' then
      delivered_after = m[11] or ''
      if not m[6] then redis.call('HSET', mkey, 'delivered_at', at) end
      move(camp, nil, 'delivered')
    end
    if cur == 'failed' then clear_failure() end
    changed = true
  end
elseif report == 'failed' then
  if not cur then
    if code == '131049' then deferred = defer() end
    if not deferred then
      local f = {'delivery', 'failed'}
      if code ~= '' then
        f[#f + 1] = 'delivery_error_code'
        f[#f + 1] = code
      end
      if ARGV[10] ~= '' then
        f[#f + 1] = 'delivery_error'
        f[#f + 1] = ARGV[10]
      end
      redis.call('HSET', mkey, unpack(f))
      move(camp, nil, 'delivery_failed')
      if code == '131050' and m[5] then
        opt_out(base, m[5], '131050', at, id, row)
        if not m[10] then
          redis.call('HSET', mkey, 'opted_out_at', at)
          move(camp, nil, 'opted_out')
        end
      end
      if ARGV[14] ~= '' then
        local s = streak_of(camp, 'late_streak_code', 'late_streak')
        local n, template = streak_fail(s, ARGV[15], ARGV[14])
        if n then pause_for_streak(camp, id, ARGV[15], n, template, ARGV[10], true, now) end
        streak_save(camp, s)
      end
    end
    changed = true
  end
end
-- A delivery ends the campaign's late failure streak.
if changed and (report == 'delivered' or report == 'read') then
  local s = streak_of(camp, 'late_streak_code', 'late_streak')
  streak_reset(s)
  streak_save(camp, s)
end

-- The final price replaces the provisional one, on a message recorded sent (a message still
-- `sending` gets the ack's price next, which would replace it again).
if price ~= '' and not deferred and status == 'sent' then
  local old = tonumber(m[4]) or 0
  local new = tonumber(price)
  if new and new ~= old then
    redis.call('HSET', mkey, 'price', price)
    redis.call('HINCRBYFLOAT', camp, 'cost', string.format('%.17g', new - old))
    changed = true
  end
end

apply_deltas(now)
if changed then return {'recorded', delivered_after} end
return {'duplicate', ''}
