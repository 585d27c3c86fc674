-- keys: 1 (the lists' write lock); ARGV: the token of the holder
-- Releases the lock only for the process that holds it: a lock that expired and was taken by another stays.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
