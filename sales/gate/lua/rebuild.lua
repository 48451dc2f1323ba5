-- Rebuild a gate from the database's record, atomically with respect to admissions.
-- Units left = units of the path (open rush or F-codes) - units the database counts as taken
-- - units of tickets still queued under the current epoch and not yet decided. Tickets of an
-- older epoch are not counted: the pipeline rejects them. Tickets already written (or
-- rejected) but not yet removed from the queue are named in the `decided` set and skipped,
-- so they are not counted twice. A code used by a counted ticket stays used.
-- A sale of N buckets is rebuilt one bucket after the other, each given the units not yet
-- placed in the buckets before it ("units" - "taken"): a bucket keeps its own queued units
-- and an even part of the rest (the last one all of it). Moves between buckets of an older
-- generation are void (the database's count has them), so its journal is cleared, and so
-- are its counts of moves in and out (they count since the last load or rebuild).
-- KEYS[1] meta, KEYS[2] stock, KEYS[3] bought, KEYS[4] queue, KEYS[5] fstock,
-- KEYS[6] decided (set of tickets the database has settled), KEYS[7] fcodes,
-- KEYS[8] journal (moves out), KEYS[9] received (moves in)
-- ARGV: epoch, starts_ms, ends_ms, limit, requires_reservation, draw, open units, open taken
--       (units queued in the buckets rebuilt after this one), fcode units, fcode taken (the
--       same for F-codes), dataset, buckets left to place units in (this one included),
--       generation, bucket count ('' for one), then pairs of user, units taken by that user
local epoch = ARGV[1]
local queued, fqueued, queued_by = 0, 0, {}
for _, entry in ipairs(redis.call('XRANGE', KEYS[4], '-', '+')) do
  local f = {}
  for i = 1, #entry[2], 2 do f[entry[2][i]] = entry[2][i + 1] end
  if f['epoch'] == epoch and redis.call('SISMEMBER', KEYS[6], f['ticket']) == 0 then
    local q = tonumber(f['qty'])
    if f['fcode'] and f['fcode'] ~= '' then
      fqueued = fqueued + q
      local code = redis.call('HGET', KEYS[7], f['fcode'])
      if code then
        local owner, expires = string.match(code, '^(%d+)|(%d+)|')
        if owner then redis.call('HSET', KEYS[7], f['fcode'], owner .. '|' .. expires .. '|1') end
      end
    else
      queued = queued + q
    end
    queued_by[f['user']] = (queued_by[f['user']] or 0) + q
  end
end
local buckets = tonumber(ARGV[12])
local function share(free)
  return math.max(math.floor(free / buckets), 0)
end
local left = share(tonumber(ARGV[7]) - tonumber(ARGV[8]) - queued)
local fleft = share(tonumber(ARGV[9]) - tonumber(ARGV[10]) - fqueued)
redis.call('DEL', KEYS[3], KEYS[8], KEYS[9])
for i = 15, #ARGV, 2 do
  queued_by[ARGV[i]] = (queued_by[ARGV[i]] or 0) + tonumber(ARGV[i + 1])
end
for user, units in pairs(queued_by) do
  redis.call('HSET', KEYS[3], user, units)
end
redis.call('SET', KEYS[2], left)
redis.call('SET', KEYS[5], fleft)
redis.call('DEL', KEYS[6])
if ARGV[14] ~= '' then redis.call('HSET', KEYS[1], 'shards', ARGV[14]) end
redis.call('HDEL', KEYS[1], 'moves_in', 'units_in', 'moves_out', 'units_out')
redis.call('HSET', KEYS[1], 'epoch', epoch, 'starts_ms', ARGV[2], 'ends_ms', ARGV[3],
           'limit', ARGV[4], 'requires_reservation', ARGV[5], 'draw', ARGV[6],
           'dataset', ARGV[11], 'gen', ARGV[13], 'loaded', '1')
return {left, queued + fqueued, fleft, queued, fqueued}
