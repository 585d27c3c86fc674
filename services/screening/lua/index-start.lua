-- keys: 1 (the lists' state hash); ARGV: the hash tag
-- Where a build of the number index starts: generation, bucket count, length of its additions log.
local st = redis.call('HMGET', KEYS[1], 'gen', 'buckets')
if not st[1] then return {'0', '0', 0} end
return {st[1], st[2], redis.call('LLEN', ARGV[1] .. ':nlog:' .. st[1])}
