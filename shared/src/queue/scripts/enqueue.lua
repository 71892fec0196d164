-- Enqueues a chunk of rows of one campaign.
-- KEYS[1] campaign hash, KEYS[2] due zset, KEYS[3] campaign's paused zset, KEYS[4] optout set
-- ARGV[1] message key prefix (…:msg:), ARGV[2] reference prefix (id:), ARGV[3] number of
-- values per row, ARGV[4] number of rows, ARGV[5] wake channel, ARGV[6] lowest row,
-- ARGV[7] highest row, ARGV[8] earliest due (ms), then per row:
--   row, to, due (ms), n overrides, n × (field, value), values × ARGV[3]
-- Returns {enqueued, skipped (hash existed), {opted-out rows}} or {'error', reason, detail}.
--
-- This is the hot path of an upload (hundreds of thousands of rows per second), so the loop
-- does as little as it can per row: one HSET with a reused argument table, and one due entry
-- per run of consecutive rows due at the same time (`id:from-to`; see parse_entry in
-- common.lua), which saves a sorted-set insertion and about 100 bytes per row.
local camp = KEYS[1]
local c = redis.call('HMGET', camp, 'ingest', 'state', 'columns', 'rows')
if not c[1] then return {'error', 'notfound', ''} end
if c[1] ~= 'running' then return {'error', 'ingest', c[1]} end
if c[2] == 'cancelled' or c[2] == 'completed' then return {'error', 'state', c[2]} end
local ncols = tonumber(ARGV[3])
local ok, columns = pcall(cjson.decode, c[3])
if not ok or #columns ~= ncols then return {'error', 'columns', tostring(ok and #columns or c[3])} end

local msg_prefix, ref_prefix = ARGV[1], ARGV[2]
local nrows = tonumber(ARGV[4])
-- Rows above the highest row ever enqueued cannot exist yet, so only a re-run pays for EXISTS.
local watermark = tonumber(c[4] or '0') or 0
local check_exists = tonumber(ARGV[6]) <= watermark
local target = KEYS[2]
if c[2] == 'paused' then target = KEYS[3] end
local check_optout = redis.call('SCARD', KEYS[4]) > 0

local enqueued, skipped = 0, 0
local opted = {}
local zargs, nz = {}, 0
-- The current run of consecutive rows with the same due time: one due entry for all of them.
local run_from, run_to, run_due = nil, nil, nil
local function flush_run()
  if not run_from then return end
  zargs[nz + 1] = run_due
  if run_from == run_to then
    zargs[nz + 2] = ref_prefix .. run_from
  else
    zargs[nz + 2] = ref_prefix .. run_from .. '-' .. run_to
  end
  nz = nz + 2
  -- Lua's unpack is limited to a few thousand values: flush in bounded batches.
  if nz >= 1000 then
    redis.call('ZADD', target, unpack(zargs, 1, nz))
    nz = 0
  end
  run_from = nil
end
-- One HSET argument table reused for every row; HSET takes its first n entries.
local f = {'to', false, 'status', 'queued'}
for k = 1, ncols do
  f[3 + 2 * k] = 'p' .. k
end
local base = 4 + 2 * ncols
local i = 9
for _ = 1, nrows do
  local row, to, due, nover = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local over = i + 4
  local vals = over
  if nover ~= '0' then
    nover = tonumber(nover)
    vals = over + 2 * nover
  else
    nover = 0
  end
  i = vals + ncols
  local key = msg_prefix .. row
  if check_exists and tonumber(row) <= watermark and redis.call('EXISTS', key) == 1 then
    skipped = skipped + 1
  elseif check_optout and redis.call('SISMEMBER', KEYS[4], to) == 1 then
    opted[#opted + 1] = tonumber(row)
  else
    f[2] = to
    for k = 1, ncols do
      f[4 + 2 * k] = ARGV[vals + k - 1]
    end
    local n = base
    for k = 0, 2 * nover - 1 do
      n = n + 1
      f[n] = ARGV[over + k]
    end
    redis.call('HSET', key, unpack(f, 1, n))
    local r = tonumber(row)
    if run_from and r == run_to + 1 and due == run_due then
      run_to = r
    else
      flush_run()
      run_from, run_to, run_due = r, r, due
    end
    enqueued = enqueued + 1
  end
end
flush_run()
if nz > 0 then redis.call('ZADD', target, unpack(zargs, 1, nz)) end
if enqueued > 0 then
  redis.call('HINCRBY', camp, 'total', enqueued)
  redis.call('HINCRBY', camp, 'queued', enqueued)
end
if tonumber(ARGV[7]) > watermark then redis.call('HSET', camp, 'rows', ARGV[7]) end
if enqueued > 0 and target == KEYS[2] then
  redis.call('PUBLISH', ARGV[5], ARGV[8])
end
return {enqueued, skipped, opted}
