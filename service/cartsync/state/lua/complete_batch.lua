-- KEYS: lease, queue, results, in-flight record (one cart: one cluster slot).
-- ARGV: token, count, results_ttl_seconds, the results announcement, the changes channel
-- (an argument, not a key: it has no slot), the next in-flight record ("" for none), then
-- op_id, result pairs. Fenced: only the lease holder records results and removes the
-- first `count` queued operations (the ones it processed), in one step, and announces
-- them. A next in-flight record (the rest of a write sequence whose answer was lost)
-- replaces the old one in the same step, so no holder ever sees those operations as
-- merely queued.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local count = tonumber(ARGV[2])
if count > 0 then
  redis.call('LTRIM', KEYS[2], count, -1)
end
for i = 7, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[3]))
if ARGV[6] == '' then
  redis.call('DEL', KEYS[4])
else
  redis.call('SET', KEYS[4], ARGV[6])
end
redis.call('PUBLISH', ARGV[5], ARGV[4])
return 1
