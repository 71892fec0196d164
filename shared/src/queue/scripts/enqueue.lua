-- Enqueues a chunk of rows of one campaign.
-- KEYS[1] campaign hash, KEYS[2] due zset, KEYS[3] campaign's paused zset, KEYS[4] optout set
-- ARGV[1] message key prefix (…:msg:), ARGV[2] due entry prefix (id:), ARGV[3] number of
-- values per row, ARGV[4] number of rows, ARGV[5] number of runs, ARGV[6] number of override
-- fields, ARGV[7] wake channel, ARGV[8] lowest row, ARGV[9] highest row, ARGV[10] earliest
-- due (ms), then
--   per run (consecutive rows due at the same time, in row order): rows, due (ms), due entry;
--   per override field (in row order): the row's position in the chunk (1-based), field, value;
--   per row: message key, to, values × ARGV[3].
-- Returns {enqueued, skipped (hash existed), {opted-out rows}} or {'error', reason, detail}.
--
-- This is the hot path of an upload (hundreds of thousands of rows per second), so a row costs
-- Redis as little as possible: its key, number and values arrive as they are stored, it is one
-- HSET with a reused argument table, and the due entries (one per run, `id:from-to`, see
-- parse_entry in common.lua) come ready-made from the producer; only a run with a row that is
-- not stored (it exists already, or its number opted out) is split here. The opt-out list is
-- asked once per chunk (SMISMEMBER), not per row.
local camp = KEYS[1]
local c = redis.call('HMGET', camp, 'ingest', 'state', 'columns', 'rows')
if not c[1] then return {'error', 'notfound', ''} end
if c[1] ~= 'running' then return {'error', 'ingest', c[1]} end
if c[2] == 'cancelled' or c[2] == 'completed' then return {'error', 'state', c[2]} end
local ncols = tonumber(ARGV[3])
local ok, columns = pcall(cjson.decode, c[3])
if not ok or #columns ~= ncols then return {'error', 'columns', tostring(ok and #columns or c[3])} end

-- Locals: a global lookup per row is measurable here.
local call, unpack, argv = redis.call, unpack, ARGV
local msg_prefix, ref_prefix = argv[1], argv[2]
local nrows, nruns, nover = tonumber(argv[4]), tonumber(argv[5]), tonumber(argv[6])
local runs_at = 11
local over_at = runs_at + 3 * nruns
local rows_at = over_at + 3 * nover
local width = 2 + ncols
-- Rows above the highest row ever enqueued cannot exist yet, so only a chunk that reaches
-- below it (a re-run) pays for EXISTS.
local watermark = tonumber(c[4] or '0') or 0
local check_exists = tonumber(argv[8]) <= watermark
local target = KEYS[2]
if c[2] == 'paused' then target = KEYS[3] end

-- Whether each row's number is on the opt-out list (1) or not (0), by position: one
-- SMISMEMBER per 1,000 rows (Lua's unpack is limited to a few thousand values).
local optout
if call('SCARD', KEYS[4]) > 0 then
  for first = 1, nrows, 1000 do
    local last = math.min(nrows, first + 999)
    local tos = {}
    for r = first, last do tos[r - first + 1] = argv[rows_at + (r - 1) * width + 1] end
    local member = call('SMISMEMBER', KEYS[4], unpack(tos))
    if not optout then
      optout = member
    else
      for j = 1, #member do optout[first + j - 1] = member[j] end
    end
  end
end

local enqueued, skipped = 0, 0
local opted = {}
local zargs, nz = {}, 0
local function add_entry(due, entry)
  zargs[nz + 1] = due
  zargs[nz + 2] = entry
  nz = nz + 2
  if nz >= 1000 then
    call('ZADD', target, unpack(zargs, 1, nz))
    nz = 0
  end
end
local function row_of(pos)
  return string.sub(argv[rows_at + (pos - 1) * width], #msg_prefix + 1)
end
-- One HSET argument table reused for every row; HSET takes its first n entries.
local f = {'to', false, 'status', 'queued'}
for k = 1, ncols do
  f[3 + 2 * k] = 'p' .. k
end
local base = 4 + 2 * ncols
local o = over_at
local next_over = nover > 0 and tonumber(argv[o]) or 0
local pos, i, rb = 0, rows_at, runs_at
for _ = 1, nruns do
  local count, due = tonumber(argv[rb]), argv[rb + 1]
  -- Positions in this run that were not stored, if any.
  local gaps
  for _ = 1, count do
    pos = pos + 1
    local n = base
    while next_over == pos do
      f[n + 1], f[n + 2] = argv[o + 1], argv[o + 2]
      n = n + 2
      o = o + 3
      next_over = o < rows_at and tonumber(argv[o]) or 0
    end
    local key = argv[i]
    if check_exists and call('EXISTS', key) == 1 then
      skipped = skipped + 1
      gaps = gaps or {}
      gaps[pos] = true
    elseif optout and optout[pos] == 1 then
      opted[#opted + 1] = tonumber(row_of(pos))
      gaps = gaps or {}
      gaps[pos] = true
    else
      f[2] = argv[i + 1]
      for k = 1, ncols do
        f[4 + 2 * k] = argv[i + 1 + k]
      end
      call('HSET', key, unpack(f, 1, n))
      enqueued = enqueued + 1
    end
    i = i + width
  end
  if not gaps then
    add_entry(due, argv[rb + 2])
  else
    -- The stored rows of the run, as runs of their own.
    local from, to
    for p = pos - count + 1, pos + 1 do
      if p <= pos and not gaps[p] then
        from = from or row_of(p)
        to = row_of(p)
      elseif from then
        add_entry(due, run_entry(ref_prefix, from, to))
        from = nil
      end
    end
  end
  rb = rb + 3
end
if nz > 0 then call('ZADD', target, unpack(zargs, 1, nz)) end
if enqueued > 0 then
  call('HINCRBY', camp, 'total', enqueued)
  call('HINCRBY', camp, 'queued', enqueued)
end
if tonumber(argv[9]) > watermark then call('HSET', camp, 'rows', argv[9]) end
if enqueued > 0 and target == KEYS[2] then
  call('PUBLISH', argv[7], argv[10])
end
return {enqueued, skipped, opted}
