-- Load a sale (or one bucket of it) into the gate the first time only: a loaded gate is never
-- reset from here, because that would forget what was already sold (rebuild.lua does that from
-- the database). Reservers, F-codes and rights are written before this script (with SETNX
-- semantics); nobody is admitted until `loaded` is set here, last.
-- KEYS[1] meta, KEYS[2] stock, KEYS[3] fstock
-- ARGV: epoch, starts_ms, ends_ms, limit, requires_reservation, draw, stock, fcode stock,
--       the Redis dataset it is loaded on (the gate sells only while Redis holds that one),
--       the sale's bucket count ('' for one: nothing recorded), the gate's generation (units
--       moved between buckets are given only within one generation)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[2], ARGV[7])
redis.call('SET', KEYS[3], ARGV[8])
if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'shards', ARGV[10]) end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'starts_ms', ARGV[2], 'ends_ms', ARGV[3],
           'limit', ARGV[4], 'requires_reservation', ARGV[5], 'draw', ARGV[6],
           'dataset', ARGV[9], 'gen', ARGV[11], 'loaded', '1')
return 1
