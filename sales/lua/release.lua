-- Give units back to a gate (an order expired, was cancelled or a ticket was rejected).
-- Only into a loaded gate: after a Redis loss the rebuild counts from the database instead.
-- KEYS[1] meta, KEYS[2] stock, KEYS[3] bought; ARGV: user, units
if redis.call('HGET', KEYS[1], 'loaded') ~= '1' then return 0 end
redis.call('INCRBY', KEYS[2], ARGV[2])
if tonumber(redis.call('HINCRBY', KEYS[3], ARGV[1], 0 - tonumber(ARGV[2]))) <= 0 then
  redis.call('HDEL', KEYS[3], ARGV[1])
end
return 1
