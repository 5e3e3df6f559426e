-- KEYS[1]: the cart's queue, KEYS[2]: the cart's snapshot hash (its record).
-- ARGV: ttl_seconds, then the operations. Appends them in order, together; returns -1
-- (nothing queued) when the cart's record is gone: its state was lost, and its owner
-- must be bound again before anything is queued for it.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
for i = 2, #ARGV do
  redis.call('RPUSH', KEYS[1], ARGV[i])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
