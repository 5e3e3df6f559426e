-- KEYS: lease, in-flight record, queue. ARGV: token, ttl_ms, limit.
-- Take the lease and, in the same step, read what there is to do: {0} when someone holds
-- it, else {1, in-flight record or false, the first `limit` queued operations}.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then
  return {0}
end
local inflight = redis.call('GET', KEYS[2])
return {1, inflight or false, redis.call('LRANGE', KEYS[3], 0, tonumber(ARGV[3]) - 1)}
