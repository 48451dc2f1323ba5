-- The flash-sale gate: one atomic decision per purchase attempt.
-- Nothing is written until every check has passed, so stock is never taken and then
-- lost to a later check, and the stock counter can never go below zero.
--
-- KEYS[1] meta     hash: loaded, epoch, starts_ms, ends_ms, limit, requires_reservation
-- KEYS[2] stock    integer: units left
-- KEYS[3] bought   hash: user -> units admitted
-- KEYS[4] idem     hash: user:key -> ticket
-- KEYS[5] queue    stream: the durable queue of admitted tickets
-- KEYS[6] seq      integer: admission sequence (queue position)
-- KEYS[7] ticket   hash: this ticket's status
-- KEYS[8] reservers set: accounts holding a reservation
-- KEYS[9..11] blacklist mirror sets: account, device, ip
-- ARGV: user, quantity, now_ms, idempotency key or "", ticket, device, ip, queue bound,
--       ticket ttl seconds, address id or ""
local user, qty, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local key, ticket, device, ip = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local queue_max, ttl, address = tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]

local meta = redis.call('HMGET', KEYS[1], 'loaded', 'epoch', 'starts_ms', 'ends_ms', 'limit',
                        'requires_reservation')
if meta[1] ~= '1' then
  return {'unavailable'}  -- keys lost or never loaded: fail closed, sell nothing
end
if key ~= '' then
  local first = redis.call('HGET', KEYS[4], user .. ':' .. key)
  if first then
    return {'duplicate', first}
  end
end
if now < tonumber(meta[3]) then return {'not_started', meta[3]} end
if now >= tonumber(meta[4]) then return {'ended', meta[4]} end
if redis.call('SISMEMBER', KEYS[9], user) == 1
   or (device ~= '' and redis.call('SISMEMBER', KEYS[10], device) == 1)
   or (ip ~= '' and redis.call('SISMEMBER', KEYS[11], ip) == 1) then
  return {'blocked'}
end
if meta[6] == '1' and redis.call('SISMEMBER', KEYS[8], user) == 0 then
  return {'reservation_required'}
end
local limit = tonumber(meta[5])
if qty > limit then return {'invalid_quantity', tostring(limit)} end
local bought = tonumber(redis.call('HGET', KEYS[3], user) or '0')
if bought + qty > limit then return {'limit_reached', tostring(limit)} end
local stock = tonumber(redis.call('GET', KEYS[2]))
if stock == nil then return {'unavailable'} end
if stock < qty then return {'sold_out'} end
if redis.call('XLEN', KEYS[5]) >= queue_max then return {'busy'} end

redis.call('DECRBY', KEYS[2], qty)
redis.call('HINCRBY', KEYS[3], user, qty)
local seq = redis.call('INCR', KEYS[6])
redis.call('XADD', KEYS[5], '*', 'ticket', ticket, 'user', user, 'qty', qty,
           'epoch', meta[2], 'seq', seq, 'at', now, 'device', device, 'ip', ip,
           'address', address)
redis.call('HSET', KEYS[7], 'status', 'queued', 'user', user, 'qty', qty, 'seq', seq)
redis.call('EXPIRE', KEYS[7], ttl)
if key ~= '' then
  redis.call('HSET', KEYS[4], user .. ':' .. key, ticket)
end
return {'admitted', ticket, tostring(seq), tostring(stock - qty)}
