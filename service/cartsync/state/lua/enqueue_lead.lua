-- KEYS: queue, snapshot hash (the cart's record), lease, in-flight record, token.
-- ARGV: ttl_seconds, lease token, lease ttl_ms, limit, then the operations.
-- enqueue.lua and lead.lua in one step, for a caller that may take the lease itself:
-- {-1} (nothing queued) when the cart's record is gone; the operations are appended in
-- order, together; {0} when someone holds the lease; else the lease is taken and the
-- new holder gets what its first turn needs: {1, in-flight record or false, the first
-- `limit` queued operations, the snapshot's fields, the upstream token or false}.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return {-1}
end
for i = 5, #ARGV do
  redis.call('RPUSH', KEYS[1], ARGV[i])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
if not redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', tonumber(ARGV[3])) then
  return {0}
end
return {
  1,
  redis.call('GET', KEYS[4]) or false,
  redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[4]) - 1),
  redis.call('HMGET', KEYS[2], 'epoch', 'version', 'fetched', 'digest', 'body', 'born', 'lost'),
  redis.call('GET', KEYS[5]) or false,
}
