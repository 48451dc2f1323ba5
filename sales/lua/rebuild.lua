-- Rebuild a gate from the database's record, atomically with respect to admissions.
-- Units left = units of the path (open rush or F-codes) - units held by orders in the
-- database - units of tickets still queued under the current epoch. Tickets of an older epoch
-- are not counted: the pipeline rejects them. Tickets already written as orders but not yet
-- removed from the queue are counted twice, which can only under-sell until the next
-- reconciliation, never over-sell.
-- KEYS[1] meta, KEYS[2] stock, KEYS[3] bought, KEYS[4] queue, KEYS[5] fstock
-- ARGV: epoch, starts_ms, ends_ms, limit, requires_reservation, draw, open units, open held,
--       fcode units, fcode held, then pairs of user, units held by that user
local epoch = ARGV[1]
local queued, fqueued, queued_by = 0, 0, {}
for _, entry in ipairs(redis.call('XRANGE', KEYS[4], '-', '+')) do
  local f = {}
  for i = 1, #entry[2], 2 do f[entry[2][i]] = entry[2][i + 1] end
  if f['epoch'] == epoch then
    local q = tonumber(f['qty'])
    if f['fcode'] and f['fcode'] ~= '' then fqueued = fqueued + q else queued = queued + q end
    queued_by[f['user']] = (queued_by[f['user']] or 0) + q
  end
end
local left = math.max(tonumber(ARGV[7]) - tonumber(ARGV[8]) - queued, 0)
local fleft = math.max(tonumber(ARGV[9]) - tonumber(ARGV[10]) - fqueued, 0)
redis.call('DEL', KEYS[3])
for i = 11, #ARGV, 2 do
  queued_by[ARGV[i]] = (queued_by[ARGV[i]] or 0) + tonumber(ARGV[i + 1])
end
for user, units in pairs(queued_by) do
  redis.call('HSET', KEYS[3], user, units)
end
redis.call('SET', KEYS[2], left)
redis.call('SET', KEYS[5], fleft)
redis.call('HSET', KEYS[1], 'epoch', epoch, 'starts_ms', ARGV[2], 'ends_ms', ARGV[3],
           'limit', ARGV[4], 'requires_reservation', ARGV[5], 'draw', ARGV[6], 'loaded', '1')
return {left, queued + fqueued, fleft}
