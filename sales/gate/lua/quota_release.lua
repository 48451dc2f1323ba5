-- Move unused F-code quota to the open rush: at most ARGV[1] units, never below zero.
-- KEYS[1] meta, KEYS[2] stock, KEYS[3] fstock; ARGV[2] the dataset the caller sees.
-- Returns the units moved, or -1: not loaded, or loaded on another dataset (stale counters).
local meta = redis.call('HMGET', KEYS[1], 'loaded', 'dataset')
if meta[1] ~= '1' or meta[2] ~= ARGV[2] then return -1 end
local left = tonumber(redis.call('GET', KEYS[3]) or '0')
local moved = math.min(left, tonumber(ARGV[1]))
if moved > 0 then
  redis.call('DECRBY', KEYS[3], moved)
  redis.call('INCRBY', KEYS[2], moved)
end
return moved
