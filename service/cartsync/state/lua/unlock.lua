-- KEYS[1]: a lock. ARGV[1]: the holder's token. Deletes the lock only for its holder.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
