-- Claims up to n due messages for a worker.
-- KEYS[1] due zset, KEYS[2] leases zset
-- ARGV[1] campaign key prefix, ARGV[2] worker id, ARGV[3] n, ARGV[4] now (ms),
-- ARGV[5] lease expiry (ms), ARGV[6] now (RFC 3339)
-- Returns {processed, next due score or false, {{ref, due score, {field, value, ...}}, ...}}.
-- `processed` counts every due entry taken off the due set, including those of paused
-- (moved aside) and cancelled (marked cancelled) campaigns and stale entries, so the caller
-- can tell "nothing due" (0) from "made progress but claimed nothing".
local prefix, worker, now = ARGV[1], ARGV[2], ARGV[6]
local refs = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[4], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]), 'WITHSCORES')
local states = {}
local out = {}
local removed = {}
local leases = {}
for j = 1, #refs, 2 do
  local ref, score = refs[j], refs[j + 1]
  removed[#removed + 1] = ref
  local id, row = parse_ref(ref)
  if id then
    local camp = prefix .. id
    local state = states[camp]
    if state == nil then
      state = redis.call('HGET', camp, 'state') or false
      states[camp] = state
    end
    local mkey = camp .. ':msg:' .. row
    -- A due entry whose message is not queued (or whose campaign is gone) is stale: dropping
    -- it is the repair.
    if state and redis.call('HGET', mkey, 'status') == 'queued' then
      if state == 'paused' then
        redis.call('ZADD', camp .. ':paused', score, ref)
      elseif state == 'cancelled' then
        redis.call('HSET', mkey, 'status', 'cancelled', 'updated_at', now)
        move(camp, 'queued', 'cancelled')
      else
        if state ~= 'running' then
          redis.call('HSET', camp, 'state', 'running')
          redis.call('HSETNX', camp, 'started_at', now)
          states[camp] = 'running'
        end
        redis.call('HINCRBY', mkey, 'claims', 1)
        redis.call('HSET', mkey, 'status', 'claimed', 'worker', worker, 'updated_at', now)
        leases[#leases + 1] = ARGV[5]
        leases[#leases + 1] = ref
        move(camp, 'queued', 'claimed')
        out[#out + 1] = {ref, score, redis.call('HGETALL', mkey)}
      end
    end
  end
end
if #removed > 0 then redis.call('ZREM', KEYS[1], unpack(removed)) end
if #leases > 0 then redis.call('ZADD', KEYS[2], unpack(leases)) end
apply_deltas(now)
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#removed, nxt[2] or false, out}
