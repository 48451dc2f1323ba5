-- Move unused F-code quota to the open rush: at most ARGV[1] units, never below zero.
-- KEYS[1] meta, KEYS[2] stock, KEYS[3] fstock; returns the units moved (or -1: not loaded)
if redis.call('HGET', KEYS[1], 'loaded') ~= '1' then return -1 end
local left = tonumber(redis.call('GET', KEYS[3]) or '0')
local moved = math.min(left, tonumber(ARGV[1]))
if moved > 0 then
  redis.call('DECRBY', KEYS[3], moved)
  redis.call('INCRBY', KEYS[2], moved)
end
return moved
