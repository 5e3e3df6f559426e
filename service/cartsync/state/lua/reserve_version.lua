-- KEYS[1]: the cart's snapshot hash. ARGV[1]: an epoch to use if the cart has none.
-- Returns {epoch, version}: the next version of the cart's sequence.
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
local version = redis.call('HINCRBY', KEYS[1], 'seq', 1)
return {redis.call('HGET', KEYS[1], 'epoch'), version}
