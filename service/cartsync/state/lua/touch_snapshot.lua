-- KEYS[1]: the cart's snapshot hash. ARGV: version, fetched_at.
-- Moves the confirmation time of the stored snapshot if it is still that version.
if redis.call('HGET', KEYS[1], 'version') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'fetched', ARGV[2])
  return 1
end
return 0
