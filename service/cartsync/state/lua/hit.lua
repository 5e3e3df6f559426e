-- KEYS[1]: a fixed-window counter. ARGV: limit, window_ms.
-- Returns 0 when the request is allowed, else the milliseconds until the window ends.
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
if count > tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 1 then ttl = 1 end
  return ttl
end
return 0
