-- Change a loaded gate's stock by a delta, refusing to go below zero (ops edits a live sale).
-- KEYS[1] meta, KEYS[2] stock; ARGV[1] delta, ARGV[2] the dataset the caller sees (a gate
-- loaded on another one has stale counters: refuse, it must be rebuilt first)
local meta = redis.call('HMGET', KEYS[1], 'loaded', 'dataset')
if meta[1] ~= '1' or meta[2] ~= ARGV[2] then return {'unavailable'} end
local left = tonumber(redis.call('GET', KEYS[2]) or '0')
local delta = tonumber(ARGV[1])
if left + delta < 0 then return {'insufficient', tostring(left)} end
return {'ok', tostring(redis.call('INCRBY', KEYS[2], delta))}
