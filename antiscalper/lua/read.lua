-- Read what the rules need about a batch of attempts of one sale, in one call: the counters
-- of antiscalper/attempts.py and the blacklist mirror, as the pipelined reads before this
-- script read them (antiscalper/risk.py says what each value feeds). Keys are built from the
-- sale's prefix, as in record.lua.
--
-- ARGV: prefix ("rs:<sale>"), burst window ms, number of blacklist sets K, the K set names,
--       then the attempts as one JSON array, each [user, device or '', ip or '', the ip's
--       10-second bucket, subnet or '', [[blacklist set 1..K, value], ...]] (strings but
--       the set numbers): the identities to look up
-- Returns per attempt: {timeline, wrong F-codes of the account, cluster size, accounts on
--   the device, on the device at the opening, reserving from the device, wrong F-codes of
--   the device, attempts from the ip in the bucket, accounts reserving from the ip within
--   the burst window of this account's reservation, accounts on the subnet at the opening,
--   wrong F-codes of this account from the device, {positions of the identities found on
--   the blacklist}}; false where the old reads had no value (no device, no ip, no subnet,
--   never reserved from the ip, a missing key).
local prefix, burst, sets = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local blacklist = {}
for k = 1, sets do blacklist[k] = ARGV[3 + k] end
local clusters = prefix .. ':cl'
local answers = {}
for _, attempt in ipairs(cjson.decode(ARGV[4 + sets])) do
  local user, device, ip, bucket, subnet = attempt[1], attempt[2], attempt[3], attempt[4],
                                           attempt[5]
  local answer = {redis.call('LRANGE', prefix .. ':a:' .. user .. ':t', 0, -1),
                  redis.call('GET', prefix .. ':a:' .. user .. ':f'),
                  redis.call('HGET', clusters, user), false, false, false, false, false,
                  false, false, false}
  if device ~= '' then
    local on = prefix .. ':d:' .. device
    answer[4] = redis.call('SCARD', on .. ':u')
    answer[5] = redis.call('SCARD', on .. ':o')
    answer[6] = redis.call('ZCARD', on .. ':r')
    answer[7] = redis.call('GET', on .. ':f')
    answer[11] = redis.call('HGET', on .. ':fu', user)
  end
  if ip ~= '' then
    answer[8] = redis.call('GET', prefix .. ':i:' .. ip .. ':v:' .. bucket)
    local reservers = prefix .. ':i:' .. ip .. ':r'
    local reserved = redis.call('ZSCORE', reservers, user)
    if reserved then
      local at = tonumber(reserved)
      answer[9] = redis.call('ZCOUNT', reservers, at - burst, at + burst)
    end
  end
  if subnet ~= '' then answer[10] = redis.call('SCARD', prefix .. ':n:' .. subnet .. ':o') end
  local found = {}
  for n, identity in ipairs(attempt[6]) do
    if redis.call('SISMEMBER', blacklist[identity[1]], identity[2]) == 1 then
      found[#found + 1] = n
    end
  end
  answer[12] = found
  answers[#answers + 1] = answer
end
return answers
