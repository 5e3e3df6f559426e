-- KEYS: lease, queue, results, in-flight record, snapshot hash (one cart: one slot).
-- ARGV: token, count, results_ttl_seconds, the results announcement ('' for none: every
-- caller waits on the holder's replica, which wakes them itself), the changes channel
-- (an argument, not a key: it has no slot), release ('1' or ''), limit, then the
-- snapshot ('1' or '', epoch, version, fetched_at, digest, body, ttl_seconds, its
-- announcement: 8 arguments), then op_id, result pairs.
-- Fenced: only the lease holder gets past the first line. With a snapshot, it is stored
-- first, only as the next version of the cart's sequence (what reserve_version would
-- have given it, so versions stay dense and a newer cart is never overwritten): {3}
-- and nothing done when it is not; {-1} when the cart's record is gone (data lost).
-- Then the results are recorded, the first `count` queued operations dropped, the
-- in-flight record deleted and the results announced. With release, the lease is let
-- go if the queue is now empty ({2}); else {1, the first `limit` queued operations}.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {0}
end
if ARGV[8] == '1' then
  if redis.call('EXISTS', KEYS[5]) == 0 then
    return {-1}
  end
  local version = tonumber(ARGV[10])
  local seq = tonumber(redis.call('HGET', KEYS[5], 'seq') or '0')
  if redis.call('HGET', KEYS[5], 'epoch') ~= ARGV[9] or seq ~= version - 1 then
    return {3}
  end
  redis.call('HSET', KEYS[5], 'seq', version, 'version', version, 'fetched', ARGV[11],
             'digest', ARGV[12], 'body', ARGV[13])
  redis.call('EXPIRE', KEYS[5], tonumber(ARGV[14]))
  redis.call('PUBLISH', ARGV[5], ARGV[15])
end
local count = tonumber(ARGV[2])
if count > 0 then
  redis.call('LTRIM', KEYS[2], count, -1)
end
for i = 16, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[3]))
redis.call('DEL', KEYS[4])
if ARGV[4] ~= '' then
  redis.call('PUBLISH', ARGV[5], ARGV[4])
end
if ARGV[6] == '1' then
  if redis.call('LLEN', KEYS[2]) == 0 then
    redis.call('DEL', KEYS[1])
    return {2}
  end
  return {1, redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[7]) - 1)}
end
return {1}
