-- Records on a campaign that its messages wait, why (`rate`, `pair`, `tier`, `window`) and
-- until when, for `wacast status`.
-- KEYS[1] campaign hash
-- ARGV[1] reason, ARGV[2] until (RFC 3339)
-- Only on a campaign that still exists: a purged one must not come back as two fields.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'waiting', ARGV[1], 'waiting_until', ARGV[2])
end
