-- Claims up to n due messages for a worker.
-- KEYS[1] due zset, KEYS[2] leases zset
-- ARGV[1] campaign key prefix, ARGV[2] worker id, ARGV[3] n, ARGV[4] now (ms),
-- ARGV[5] lease expiry (ms), ARGV[6] now (RFC 3339)
-- Returns {processed, next due score or false, {{ref, due score, {field, value, ...}}, ...}}.
-- `processed` counts every row looked at (claimed, cancelled, or stale) and every entry moved
-- aside, so the caller can tell "nothing due" (0) from "made progress but claimed nothing".
--
-- A due entry may be a run of rows (`id:from-to`, written by enqueue): the script takes rows
-- from its low end, at most n rows in all, and puts the rest of the run back with the same
-- score. Entries of paused campaigns move aside whole; rows of cancelled campaigns are marked
-- cancelled; rows no longer queued (a cancel walk, a purge) are stale and simply dropped.
local prefix, worker, now = ARGV[1], ARGV[2], ARGV[6]
local budget = tonumber(ARGV[3])
local refs = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[4], 'BYSCORE', 'LIMIT', 0, budget, 'WITHSCORES')
local states = {}
local out = {}
local removed = {}
local leases = {}
local processed = 0
for j = 1, #refs, 2 do
  if budget <= 0 then break end
  local ref, score = refs[j], refs[j + 1]
  removed[#removed + 1] = ref
  local id, from, to = parse_entry(ref)
  if not id then
    processed = processed + 1
    budget = budget - 1
  else
    local camp = prefix .. id
    local state = states[camp]
    if state == nil then
      state = redis.call('HGET', camp, 'state') or false
      states[camp] = state
    end
    if state == 'paused' then
      redis.call('ZADD', camp .. ':paused', score, ref)
      processed = processed + 1
      budget = budget - 1
    else
      local last = math.min(to, from + budget - 1)
      -- The rest of the run goes back only for a live campaign: a cancelled one's queued
      -- rows are the cancel walk's, and a vanished one's entries are stale.
      if last < to and state and state ~= 'cancelled' then
        redis.call('ZADD', KEYS[1], score, entry_of(id, last + 1, to))
      end
      for row = from, last do
        processed = processed + 1
        budget = budget - 1
        local mkey = camp .. ':msg:' .. row
        -- A row whose message is not queued (or whose campaign is gone) is stale: dropping
        -- its entry is the repair.
        if state and redis.call('HGET', mkey, 'status') == 'queued' then
          if state == 'cancelled' then
            redis.call('HSET', mkey, 'status', 'cancelled', 'updated_at', now)
            move(camp, 'queued', 'cancelled')
          else
            if state ~= 'running' then
              redis.call('HSET', camp, 'state', 'running')
              redis.call('HSETNX', camp, 'started_at', now)
              state = 'running'
              states[camp] = state
            end
            local single = id .. ':' .. row
            redis.call('HINCRBY', mkey, 'claims', 1)
            redis.call('HSET', mkey, 'status', 'claimed', 'worker', worker, 'updated_at', now)
            leases[#leases + 1] = ARGV[5]
            leases[#leases + 1] = single
            move(camp, 'queued', 'claimed')
            out[#out + 1] = {single, score, redis.call('HGETALL', mkey)}
          end
        end
      end
    end
  end
end
if #removed > 0 then redis.call('ZREM', KEYS[1], unpack(removed)) end
if #leases > 0 then redis.call('ZADD', KEYS[2], unpack(leases)) end
apply_deltas(now)
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {processed, nxt[2] or false, out}
