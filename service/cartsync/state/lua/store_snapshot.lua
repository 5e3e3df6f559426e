-- KEYS[1]: the cart's snapshot hash, KEYS[2]: the cart's lease (one cluster slot).
-- ARGV: epoch, version, fetched_at, digest, body, ttl_seconds, lease token ('' = none),
-- the change announcement, the changes channel (an argument: channels have no slot).
-- Stores the snapshot only if it belongs to the current epoch and is newer than the
-- stored one, so a slow writer can never replace a newer cart with an older one; and,
-- when a lease token is given, only while that token holds the lease (fencing). A stored
-- snapshot is announced to every replica in the same step.
if ARGV[7] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[7] then
  return 0
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if epoch ~= ARGV[1] then
  return 0
end
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if tonumber(ARGV[2]) <= current then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'fetched', ARGV[3], 'digest', ARGV[4],
           'body', ARGV[5])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
redis.call('PUBLISH', ARGV[9], ARGV[8])
return 1
