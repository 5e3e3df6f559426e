-- KEYS[1]: the cart's lease. ARGV: token, ttl_ms. One holder at a time.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then
  return 1
end
return 0
