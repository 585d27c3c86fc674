-- keys: 1 (the lists' state hash); ARGV: the hash tag, the index's generation, how much of its log it holds
-- Loads what engines cache in process — the name patterns, the prefixes and the allowlist (value → meta id), the
-- numbers changed in place since the process's number index was built (ARGV[2] its generation, ARGV[3] how much
-- of the number log it holds) — with the version and generation they belong to. Meta records are not loaded:
-- look-ups bring those of their hits (and processes keep the ones they met), so a list change costs a process
-- one small read, however many entries (and meta records) the lists hold.
local st = redis.call('HMGET', KEYS[1], 'version', 'gen')
if not st[2] then return {st[1] or '0', {}, '0', {}, 0, {}, {}} end
local tag, gen = ARGV[1], st[2]
local log = tag .. ':nlog:' .. gen
local added = {}
if ARGV[2] == gen then added = redis.call('LRANGE', log, tonumber(ARGV[3]), -1) end
return {st[1] or '0', redis.call('HGETALL', tag .. ':names:' .. gen), gen, redis.call('HGETALL', tag .. ':px:' .. gen),
  redis.call('LLEN', log), added, redis.call('HGETALL', tag .. ':al:' .. gen)}
