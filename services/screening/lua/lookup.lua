-- keys: 1 (the lists' state hash); ARGV: the hash tag, then pairs of caller digits and subscriber
-- The call-path side of the lists: one script call answers whole screenings (exact number, longest prefix,
-- allowlist, the subscriber's own allowlist and preferences). The script reads the current generation and
-- its keys atomically, so an import that flips generations is seen wholly or not at all. Look-ups asked
-- for before the process gets back to the event loop (e.g. by the calls whose replies came in one read)
-- share one call, which spares the client most of its per-command cost; a lone look-up goes out at once,
-- without waiting for the next turn of the event loop (a microtask: before the asking code's next await resumes).
local st = redis.call('HMGET', KEYS[1], 'version', 'gen', 'buckets', 'pxlens')
local tag, gen, b = ARGV[1], st[2], tonumber(st[3])
local lens = {}
for len in string.gmatch(st[4] or '', '%d+') do lens[#lens + 1] = tonumber(len) end
local out = {st[1] or '0', st[4] or ''}
for i = 2, #ARGV, 2 do
  local digits, sub = ARGV[i], ARGV[i + 1]
  local exact, allow, prefixes, subscriber = false, false, {}, {}
  if gen and digits ~= '' then
    local n = tonumber(digits)
    local bucket = n % b
    exact = redis.call('HGET', tag .. ':n:' .. gen .. ':' .. string.format('%d', bucket), string.format('%d', (n - bucket) / b))
    allow = redis.call('HGET', tag .. ':al:' .. gen, digits)
    local fields = {}
    for j = 1, #lens do
      if lens[j] < #digits then fields[#fields + 1] = string.sub(digits, 1, lens[j]) end
    end
    if #fields > 0 then prefixes = redis.call('HMGET', tag .. ':px:' .. gen, unpack(fields)) end
  end
  if sub ~= '' then subscriber = redis.call('HGETALL', tag .. ':sub:' .. sub) end
  -- what a hit means (brand, reason, expiry) comes with it: processes keep no copy of the meta records
  local ids = {}
  if exact then ids[#ids + 1] = exact end
  if allow then ids[#ids + 1] = allow end
  for j = 1, #prefixes do if prefixes[j] then ids[#ids + 1] = prefixes[j] end end
  local metas = {}
  if #ids > 0 then metas = redis.call('HMGET', tag .. ':meta:' .. gen, unpack(ids)) end
  local meta = {}
  for j = 1, #ids do meta[#meta + 1] = ids[j]; meta[#meta + 1] = metas[j] or '' end
  out[#out + 1] = {exact, prefixes, allow, subscriber, meta}
end
return out
