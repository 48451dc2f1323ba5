-- Load a sale into the gate the first time only: a loaded gate is never reset from here,
-- because that would forget what was already sold (rebuild.lua does that from the database).
-- Reservers, F-codes and rights are written before this script (with SETNX semantics);
-- nobody is admitted until `loaded` is set here, last.
-- KEYS[1] meta, KEYS[2] stock, KEYS[3] fstock
-- ARGV: epoch, starts_ms, ends_ms, limit, requires_reservation, draw, stock, fcode stock,
--       the Redis dataset it is loaded on (the gate sells only while Redis holds that one)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[2], ARGV[7])
redis.call('SET', KEYS[3], ARGV[8])
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'starts_ms', ARGV[2], 'ends_ms', ARGV[3],
           'limit', ARGV[4], 'requires_reservation', ARGV[5], 'draw', ARGV[6],
           'dataset', ARGV[9], 'loaded', '1')
return 1
