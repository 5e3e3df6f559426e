-- KEYS[1]: the cart's lease, KEYS[2]: its queue. ARGV[1]: the holder's token.
-- Releases the lease only when the queue is empty, atomically, so an operation queued
-- while the holder was finishing is never stranded: -1 lost, 0 still leading, 1 released.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
if redis.call('LLEN', KEYS[2]) > 0 then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
