-- Take up to ARGV[1] units from a bucket (a donor), never below zero. With a move id, the
-- units are on their way to another bucket: recorded in the donor's journal first, in this
-- same call, so units in transit are never counted twice nor lost (reconciliation gives what
-- a crash left in the journal, `sales.gate.buckets.moves_repair`). Without one, they leave
-- the sale (ops lowering the stock).
-- KEYS[1] meta, KEYS[2] the counter (stock or fstock), KEYS[3] journal
-- ARGV[1] units wanted, ARGV[2] the dataset the caller sees, ARGV[3] move id or '',
-- ARGV[4] the journal entry: recipient bucket|path
-- Returns {units taken, the donor's generation}, or {-1}: not loaded, or on another dataset.
-- A move is also counted in the donor's meta (`moves_out`, `units_out`: since its last load
-- or rebuild), for the report and the dashboard.
local meta = redis.call('HMGET', KEYS[1], 'loaded', 'dataset', 'gen')
if meta[1] ~= '1' or meta[2] ~= ARGV[2] then return {-1} end
local left = tonumber(redis.call('GET', KEYS[2]) or '0')
local taken = math.min(left, tonumber(ARGV[1]))
if taken <= 0 then return {0, meta[3] or '0'} end
redis.call('DECRBY', KEYS[2], taken)
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[4] .. '|' .. taken .. '|' .. (meta[3] or '0'))
  redis.call('HINCRBY', KEYS[1], 'moves_out', 1)
  redis.call('HINCRBY', KEYS[1], 'units_out', taken)
end
return {taken, meta[3] or '0'}
