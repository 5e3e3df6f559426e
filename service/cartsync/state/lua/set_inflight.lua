-- KEYS[1]: lease, KEYS[2]: in-flight record. ARGV: token, record.
-- Written before a batch leaves for the store, by the lease holder only, so a successor
-- knows a batch of unknown outcome exists and reconciles before anything else.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
