-- KEYS: lease, results, in-flight record. ARGV: token, ttl_ms, record, then op ids.
-- Before a batch leaves: renew the holder's lease (none left: lost), read which of its
-- operations already have results (queued twice), and record the batch as in flight
-- unless one has. Returns {0} when the lease was lost, else {1, results...}.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {0}
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
local answered = {1}
local any = false
for i = 4, #ARGV do
  local result = redis.call('HGET', KEYS[2], ARGV[i])
  if result then any = true end
  answered[#answered + 1] = result or false
end
if not any then
  redis.call('SET', KEYS[3], ARGV[3])
end
return answered
