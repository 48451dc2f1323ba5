-- Give units back to a gate, once per token (an order or a ticket): a retried release, or a
-- release racing a rebuild that already counted the unit as free, adds nothing. Only into a
-- loaded gate: after a Redis loss the rebuild counts from the database instead.
-- KEYS[1] meta, KEYS[2] stock (or F-code stock), KEYS[3] bought, KEYS[4] returned tokens
-- ARGV: user, units, token
if redis.call('HGET', KEYS[1], 'loaded') ~= '1' then return 0 end
if redis.call('SADD', KEYS[4], ARGV[3]) == 0 then return 0 end
redis.call('INCRBY', KEYS[2], ARGV[2])
if tonumber(redis.call('HINCRBY', KEYS[3], ARGV[1], 0 - tonumber(ARGV[2]))) <= 0 then
  redis.call('HDEL', KEYS[3], ARGV[1])
end
return 1
