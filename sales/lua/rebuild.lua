-- Rebuild a gate from the database's record, atomically with respect to admissions.
-- Stock left = stock - units held by orders in the database - units of tickets still queued
-- under the current epoch. Tickets of an older epoch are not counted: the pipeline rejects
-- them. Tickets already written as orders but not yet removed from the queue are counted
-- twice, which can only under-sell until the next reconciliation, never over-sell.
-- KEYS[1] meta, KEYS[2] stock, KEYS[3] bought, KEYS[4] queue
-- ARGV: epoch, starts_ms, ends_ms, limit, requires_reservation, stock total, units held,
--       then pairs of user, units held by that user
local epoch = ARGV[1]
local queued, queued_by = 0, {}
for _, entry in ipairs(redis.call('XRANGE', KEYS[4], '-', '+')) do
  local f = {}
  for i = 1, #entry[2], 2 do f[entry[2][i]] = entry[2][i + 1] end
  if f['epoch'] == epoch then
    local q = tonumber(f['qty'])
    queued = queued + q
    queued_by[f['user']] = (queued_by[f['user']] or 0) + q
  end
end
local left = tonumber(ARGV[6]) - tonumber(ARGV[7]) - queued
if left < 0 then left = 0 end
redis.call('DEL', KEYS[3])
for i = 8, #ARGV, 2 do
  queued_by[ARGV[i]] = (queued_by[ARGV[i]] or 0) + tonumber(ARGV[i + 1])
end
for user, units in pairs(queued_by) do
  redis.call('HSET', KEYS[3], user, units)
end
redis.call('SET', KEYS[2], left)
redis.call('HSET', KEYS[1], 'epoch', epoch, 'starts_ms', ARGV[2], 'ends_ms', ARGV[3],
           'limit', ARGV[4], 'requires_reservation', ARGV[5], 'loaded', '1')
return {left, queued}
