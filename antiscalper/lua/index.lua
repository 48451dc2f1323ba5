-- Add what a batch of participants holds to a sale's identifier index (antiscalper/incremental.py
-- documents the keys), in one call per chunk: the pipelined SADDs and EXPIREs it replaces
-- cost the worker more to pack than Redis to run. Sets: adding twice is adding once.
--
-- ARGV: prefix ("lk:<sale>"), TTL seconds, then one JSON array of [identifier, [user, ...]]
--       (identifier: "kind<US>value", as `incremental._encode` writes it)
-- Returns the number of identifiers written.
local prefix, ttl = ARGV[1], tonumber(ARGV[2])
local accounts, written = {}, 0
for _, entry in ipairs(cjson.decode(ARGV[3])) do
  local identifier, users = entry[1], entry[2]
  local key = prefix .. ':i:' .. identifier
  for _, user in ipairs(users) do
    redis.call('SADD', key, user)
    local account = prefix .. ':a:' .. user
    redis.call('SADD', account, identifier)
    accounts[account] = true
  end
  redis.call('EXPIRE', key, ttl)
  written = written + 1
end
for account in pairs(accounts) do
  redis.call('EXPIRE', account, ttl)
end
return written
