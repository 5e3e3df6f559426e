-- KEYS[1]: the cart's snapshot hash. ARGV[1]: an epoch to use if the cart has none.
-- Returns {epoch, version}: the next version of the cart's sequence; {false, -1} when the
-- cart's record is gone (its claim made it; only a lost dataset removes it while the
-- owner still points at it): a record is never made from nothing here.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {false, -1}
end
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
local version = redis.call('HINCRBY', KEYS[1], 'seq', 1)
return {redis.call('HGET', KEYS[1], 'epoch'), version}
