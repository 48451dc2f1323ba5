-- Add the units of a move to the recipient bucket, once per move id.
-- KEYS[1] meta, KEYS[2] the counter (stock or fstock), KEYS[3] received (move ids)
-- ARGV[1] units, ARGV[2] move id, ARGV[3] the dataset the caller sees, ARGV[4] the donor's
-- generation when it gave them
-- Returns 1 given, 0 already given, -2 void (taken before this bucket was rebuilt: the
-- rebuild counted them), -1 not now (not loaded, another dataset, or this bucket not yet
-- rebuilt to the donor's generation): the move stays in the donor's journal.
-- A move given is counted in the recipient's meta (`moves_in`, `units_in`: since its last
-- load or rebuild), for the report and the dashboard.
local meta = redis.call('HMGET', KEYS[1], 'loaded', 'dataset', 'gen')
if meta[1] ~= '1' or meta[2] ~= ARGV[3] then return -1 end
local here, there = tonumber(meta[3] or '0'), tonumber(ARGV[4])
if there < here then return -2 end
if there > here then return -1 end
if redis.call('SADD', KEYS[3], ARGV[2]) == 0 then return 0 end
redis.call('INCRBY', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'moves_in', 1)
redis.call('HINCRBY', KEYS[1], 'units_in', ARGV[1])
return 1
