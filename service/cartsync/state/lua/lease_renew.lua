-- KEYS[1]: the cart's lease. ARGV: token, ttl_ms. Extends the lease of its holder only.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
