-- Rewrite a bucket's copy of the blacklist mirror from the mirror's sets as of one version,
-- keeping the identities a later sync has already written (their newer answer stands), then
-- stamp it ready with the dataset of the master that holds it.
-- KEYS[1] ready, KEYS[2] versions hash, KEYS[3..] the copy's sets, one per kind
-- ARGV[1] the dataset, ARGV[2] the mirror's version, ARGV[3..] per kind: kind, count, values
local version = tonumber(ARGV[2])
local newer = {}
for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
  if field ~= '_base' and tonumber(redis.call('HGET', KEYS[2], field)) > version then
    newer[#newer + 1] = field
  else
    redis.call('HDEL', KEYS[2], field)
  end
end
local at = 3
for k = 3, #KEYS do
  local kind, count = ARGV[at], tonumber(ARGV[at + 1])
  local kept = {}
  for _, field in ipairs(newer) do
    local value = string.sub(field, #kind + 2)
    if string.sub(field, 1, #kind + 1) == kind .. '|' then
      kept[value] = redis.call('SISMEMBER', KEYS[k], value)
    end
  end
  redis.call('DEL', KEYS[k])
  for i = at + 2, at + 1 + count do redis.call('SADD', KEYS[k], ARGV[i]) end
  for value, member in pairs(kept) do
    if member == 1 then redis.call('SADD', KEYS[k], value) else redis.call('SREM', KEYS[k], value) end
  end
  at = at + 2 + count
end
redis.call('HSET', KEYS[2], '_base', version)
redis.call('SET', KEYS[1], ARGV[1])
return 1
