-- One identity in or out of a bucket's copy of the blacklist mirror (a Redis Cluster's gate
-- reads its own copy, in its own slot). Applied only if newer than what the copy holds for it:
-- two syncs of one identity reaching a copy out of order leave the later answer.
-- KEYS[1] the copy's set of this kind, KEYS[2] the copy's versions hash ("_base": the mirror
-- version of its last full rewrite; "<kind>|<value>": the version of the last sync applied)
-- ARGV[1] kind|value, ARGV[2] value, ARGV[3] 1 (in) or 0 (out), ARGV[4] the mirror's version
local version = tonumber(ARGV[4])
local seen = math.max(tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0'),
                      tonumber(redis.call('HGET', KEYS[2], '_base') or '0'))
if version <= seen then return 0 end
if ARGV[3] == '1' then
  redis.call('SADD', KEYS[1], ARGV[2])
else
  redis.call('SREM', KEYS[1], ARGV[2])
end
redis.call('HSET', KEYS[2], ARGV[1], version)
return 1
