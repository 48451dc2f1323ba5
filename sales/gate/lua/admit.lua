-- The flash-sale gate: one atomic decision per purchase attempt, for every sale mode.
-- Nothing is written until every check has passed (wrong F-code guesses excepted: they are
-- counted), so stock is never taken and then lost to a later check, and no counter can go
-- below zero.
--
-- Each slot by name (sales.gate.admission.ADMIT_KEYS and ADMIT_ARGV; a test compares them):
-- KEYS[1] meta               hash: loaded, epoch, starts_ms, ends_ms, limit,
--                            requires_reservation, draw, dataset, shards (a sale of more
--                            than one bucket; a router holds only that)
-- KEYS[2] stock              integer: units left for the open rush
-- KEYS[3] bought             hash: user -> units admitted
-- KEYS[4] idem               hash: user:key -> ticket
-- KEYS[5] queue              stream: the durable queue of admitted tickets
-- KEYS[6] seq                integer: admission sequence (queue position)
-- KEYS[7] ticket             hash: this ticket's status
-- KEYS[8] reservers          set: accounts holding a reservation
-- KEYS[9] blacklist_account  set: blacklisted accounts (the blacklist mirror)
-- KEYS[10] blacklist_device  set: blacklisted devices
-- KEYS[11] blacklist_ip      set: blacklisted IPs
-- KEYS[12] fstock            integer: units left for F-codes and draw rights
-- KEYS[13] fcodes            hash: code hmac -> "user|expires_ms|used"
-- KEYS[14] rights            hash: user -> code hmac of the user's draw right
-- KEYS[15] guesses_account   integer: wrong F-codes by this account
-- KEYS[16] guesses_device    integer: wrong F-codes from this device
-- KEYS[17] signals           stream: anti-scalper signals (F-code guessing)
-- KEYS[18] blacklist_ready   string: the dataset the blacklist mirror was built on
-- KEYS[19] attempts          stream: every decided attempt, the anti-scalper's raw material
-- KEYS[20] rate              integer: this account's attempts, for the sale's rate limit
-- ARGV[1] user               the account's id
-- ARGV[2] quantity           units asked for
-- ARGV[3] now_ms             the web tier's clock, ms since the epoch
-- ARGV[4] idempotency_key    the client's Idempotency-Key, or ""
-- ARGV[5] ticket             the ticket this attempt gets if admitted
-- ARGV[6] device             X-Device-Id (or the storefront's device cookie), or ""
-- ARGV[7] ip                 the client's IP behind the trusted proxies
-- ARGV[8] queue_bound        the most tickets the queue may hold (else `busy`)
-- ARGV[9] ticket_ttl         seconds a ticket's status is kept
-- ARGV[10] address           the delivery address id, or ""
-- ARGV[11] fcode_hash        the F-code's HMAC, or ""
-- ARGV[12] guess_limit       wrong F-codes allowed per window
-- ARGV[13] guess_window      that window, seconds
-- ARGV[14] client            user agent and browser headers, JSON
-- ARGV[15] attempts_cap      the attempts stream's approximate length cap
-- ARGV[16] rate_limit        attempts allowed per account per window
-- ARGV[17] rate_window       that window, seconds
-- ARGV[18] dataset           the Redis dataset (run id:replication id) the caller's line
--                            reaches, filled in by the line itself
-- ARGV[19] shards            the bucket count the caller assumed (else `reroute`, no write)
-- ARGV[20] borrow            1: an empty bucket answers `empty` (nothing counted) so that the
--                            caller moves units in from the others and asks again
local user, qty, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local key, ticket, device, ip = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local queue_max, ttl, address = tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]
local code, guess_max, guess_window = ARGV[11], tonumber(ARGV[12]), tonumber(ARGV[13])
local client, attempts_max = ARGV[14], tonumber(ARGV[15])
local rate_max, rate_window = tonumber(ARGV[16]), tonumber(ARGV[17])
local dataset = ARGV[18]

local function decide()

local meta = redis.call('HMGET', KEYS[1], 'loaded', 'epoch', 'starts_ms', 'ends_ms', 'limit',
                        'requires_reservation', 'draw', 'dataset', 'shards')
-- The caller routed by another bucket count than the sale's (it had not met the sale yet).
if (meta[9] or (meta[1] == '1' and '1')) and (meta[9] or '1') ~= ARGV[19] then
  return {'reroute', meta[9] or '1'}
end
-- Gate or blacklist lost, never loaded, or loaded on another dataset (Redis restarted from an
-- older snapshot, a lagging replica promoted, a backup restored): its counters may be older
-- than what was sold, so fail closed and sell nothing until it is rebuilt from the database.
if meta[1] ~= '1' or dataset == '' or meta[8] ~= dataset
   or redis.call('GET', KEYS[18]) ~= dataset then
  return {'unavailable'}
end
if key ~= '' then
  local first = redis.call('HGET', KEYS[4], user .. ':' .. key)
  if first then
    return {'duplicate', first}
  end
end
local tries = redis.call('INCR', KEYS[20])
if tries == 1 then redis.call('EXPIRE', KEYS[20], rate_window) end
if tries > rate_max then
  return {'rate_limited', tostring(redis.call('TTL', KEYS[20]))}
end
if now < tonumber(meta[3]) then return {'not_started', meta[3]} end
if now >= tonumber(meta[4]) then return {'ended', meta[4]} end
if redis.call('SISMEMBER', KEYS[9], user) == 1
   or (device ~= '' and redis.call('SISMEMBER', KEYS[10], device) == 1)
   or (ip ~= '' and redis.call('SISMEMBER', KEYS[11], ip) == 1) then
  return {'blocked'}
end

local counter, path = KEYS[2], 'open'
if code ~= '' or meta[7] == '1' then
  path = 'fcode'
  counter = KEYS[12]
  if code == '' then
    code = redis.call('HGET', KEYS[14], user)
    if not code then return {'no_right'} end
  else
    local by_user = tonumber(redis.call('GET', KEYS[15]) or '0')
    local by_device = device ~= '' and tonumber(redis.call('GET', KEYS[16]) or '0') or 0
    if by_user >= guess_max or by_device >= guess_max then
      return {'fcode_locked', tostring(redis.call('TTL', KEYS[15]))}
    end
  end
  local entry = redis.call('HGET', KEYS[13], code)
  local owner, expires, used
  if entry then
    owner, expires, used = string.match(entry, '^(%d+)|(%d+)|(%d)$')
  end
  if not entry or owner ~= user or tonumber(expires) <= now or used == '1' then
    if ARGV[11] ~= '' then
      redis.call('INCR', KEYS[15])
      redis.call('EXPIRE', KEYS[15], guess_window)
      if device ~= '' then
        redis.call('INCR', KEYS[16])
        redis.call('EXPIRE', KEYS[16], guess_window)
      end
      redis.call('XADD', KEYS[17], 'MAXLEN', '~', 100000, '*', 'kind', 'fcode_guess',
                 'user', user, 'device', device, 'ip', ip, 'at', now)
    end
    return {'fcode_invalid'}
  end
  if qty ~= 1 then return {'invalid_quantity', '1'} end
elseif meta[6] == '1' and redis.call('SISMEMBER', KEYS[8], user) == 0 then
  return {'reservation_required'}
end
local limit = tonumber(meta[5])
if qty > limit then return {'invalid_quantity', tostring(limit)} end
local bought = tonumber(redis.call('HGET', KEYS[3], user) or '0')
if bought + qty > limit then return {'limit_reached', tostring(limit)} end
local stock = tonumber(redis.call('GET', counter))
if stock == nil then return {'unavailable'} end
if stock < qty then
  if ARGV[20] == '1' then
    redis.call('DECR', KEYS[20])  -- asked again once units moved in: counted then
    return {'empty', path}
  end
  return {'sold_out', path}
end
if redis.call('XLEN', KEYS[5]) >= queue_max then return {'busy'} end

redis.call('DECRBY', counter, qty)
redis.call('HINCRBY', KEYS[3], user, qty)
if path == 'fcode' then
  local owner, expires = string.match(redis.call('HGET', KEYS[13], code), '^(%d+)|(%d+)|')
  redis.call('HSET', KEYS[13], code, owner .. '|' .. expires .. '|1')
else
  code = ''
end
local seq = redis.call('INCR', KEYS[6])
redis.call('XADD', KEYS[5], '*', 'ticket', ticket, 'user', user, 'qty', qty,
           'epoch', meta[2], 'seq', seq, 'at', now, 'device', device, 'ip', ip,
           'address', address, 'fcode', code, 'client', client)
redis.call('HSET', KEYS[7], 'status', 'queued', 'user', user, 'qty', qty, 'seq', seq)
redis.call('EXPIRE', KEYS[7], ttl)
if key ~= '' then
  redis.call('HSET', KEYS[4], user .. ':' .. key, ticket)
end
return {'admitted', ticket, tostring(seq), tostring(stock - qty)}
end

local result = decide()
local verdict = result[1]
if verdict ~= 'unavailable' and verdict ~= 'duplicate' and verdict ~= 'reroute'
   and verdict ~= 'empty' then
  redis.call('XADD', KEYS[19], 'MAXLEN', '~', attempts_max, '*', 'user', user, 'at', now,
             'verdict', result[1], 'device', device, 'ip', ip, 'client', client,
             'fcode', ARGV[11] ~= '' and '1' or '0',
             'ticket', result[1] == 'admitted' and result[2] or '')
end
return result
