-- Change a loaded gate's stock by a delta, refusing to go below zero (ops edits a live sale).
-- KEYS[1] meta, KEYS[2] stock; ARGV[1] delta
if redis.call('HGET', KEYS[1], 'loaded') ~= '1' then return {'unavailable'} end
local left = tonumber(redis.call('GET', KEYS[2]) or '0')
local delta = tonumber(ARGV[1])
if left + delta < 0 then return {'insufficient', tostring(left)} end
return {'ok', tostring(redis.call('INCRBY', KEYS[2], delta))}
