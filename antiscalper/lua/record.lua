-- Count a batch of attempts of one sale: the counters of antiscalper/attempts.py (see there
-- for each key), as the pipelined commands before this script counted them, in one call.
-- The keys are built here from the sale's prefix (a standalone Redis, as the gate's own
-- script needs: it reads the global blacklist sets beside the sale's keys).
--
-- ARGV: prefix ("rs:<sale>"), TTL seconds, timeline length, then the attempts as one JSON
--       array (one argument to decode in C, not seven to pack in Python) of arrays of 7
--       strings: user, at (ms), flags ('r' reservation, 'o' within the opening, 'f' wrong
--       F-code), device or '', ip or '', subnet or '', the ip's 10-second bucket
-- Returns the number of attempts counted.
local prefix, ttl, keep = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local touched, timelines = {}, {}
local function count(command, key, ...)
  redis.call(command, key, ...)
  touched[key] = true
end
local counted = 0
for _, attempt in ipairs(cjson.decode(ARGV[4])) do
  local user, at, flags = attempt[1], attempt[2], attempt[3]
  local device, ip, subnet = attempt[4], attempt[5], attempt[6]
  local opening = string.find(flags, 'o', 1, true)
  if string.find(flags, 'r', 1, true) then
    if device ~= '' then count('ZADD', prefix .. ':d:' .. device .. ':r', 'NX', at, user) end
    if ip ~= '' then count('ZADD', prefix .. ':i:' .. ip .. ':r', 'NX', at, user) end
  else
    local timeline = prefix .. ':a:' .. user .. ':t'
    count('LPUSH', timeline, at)
    timelines[timeline] = true
    if device ~= '' then
      count('SADD', prefix .. ':d:' .. device .. ':u', user)
      if opening then count('SADD', prefix .. ':d:' .. device .. ':o', user) end
    end
    if ip ~= '' then count('INCR', prefix .. ':i:' .. ip .. ':v:' .. attempt[7]) end
    if subnet ~= '' and opening then count('SADD', prefix .. ':n:' .. subnet .. ':o', user) end
  end
  if string.find(flags, 'f', 1, true) then
    count('INCR', prefix .. ':a:' .. user .. ':f')
    if device ~= '' then
      count('INCR', prefix .. ':d:' .. device .. ':f')
      -- Whose guesses they were: the device's points leave out the account's own from it.
      count('HINCRBY', prefix .. ':d:' .. device .. ':fu', user, 1)
    end
  end
  counted = counted + 1
end
-- Trimming once per timeline keeps what trimming after every push kept: the newest ones.
for timeline in pairs(timelines) do redis.call('LTRIM', timeline, 0, keep - 1) end
for key in pairs(touched) do redis.call('EXPIRE', key, ttl) end
return counted
