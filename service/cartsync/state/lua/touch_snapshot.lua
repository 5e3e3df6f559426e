-- KEYS[1]: the cart's snapshot hash. ARGV: version, fetched_at, ttl_seconds.
-- Moves the confirmation time of the stored snapshot if it is still that version, and
-- keeps the (active) cart for another ttl.
if redis.call('HGET', KEYS[1], 'version') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'fetched', ARGV[2])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 1
end
return 0
