-- KEYS: lease, queue, results, in-flight record (one cart: one cluster slot).
-- ARGV: token, count, results_ttl_seconds, the results announcement, the changes channel
-- (an argument, not a key: it has no slot), then op_id, result pairs. Fenced: only the lease holder records results and removes the first `count`
-- queued operations (the ones it processed), in one step, and announces them.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local count = tonumber(ARGV[2])
if count > 0 then
  redis.call('LTRIM', KEYS[2], count, -1)
end
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[3]))
redis.call('DEL', KEYS[4])
redis.call('PUBLISH', ARGV[5], ARGV[4])
return 1
