-- KEYS: the dataset's generation marker, its loss record (one slot).
-- ARGV: a candidate generation id, the time a loss was noticed ('' = none), the loss
-- record's ttl in seconds. Marks the dataset unless it is marked (the first replica to
-- see an empty dataset wins); a replica that saw the data go records the loss (the
-- first to notice sets its time). Returns {generation, loss time or false}.
redis.call('SET', KEYS[1], ARGV[1], 'NX')
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', tonumber(ARGV[3]))
end
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]) or false}
