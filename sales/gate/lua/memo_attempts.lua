-- Append attempts the web worker's sold-out memo answered to a sale's attempts stream: one
-- call for a worker's batch (one reply to read, not one per attempt), each entry exactly the
-- fields admit.lua writes for a sold_out attempt, plus memo=1.
-- KEYS[1] attempts          stream: every decided attempt, the anti-scalper's raw material
-- ARGV[1] attempts_cap      the stream's approximate length cap
-- ARGV[2..] five per attempt: user, at (ms), device, ip, client
local cap = ARGV[1]
local n = 0
for i = 2, #ARGV - 4, 5 do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', cap, '*', 'user', ARGV[i], 'at', ARGV[i + 1],
             'verdict', 'sold_out', 'device', ARGV[i + 2], 'ip', ARGV[i + 3],
             'client', ARGV[i + 4], 'fcode', '0', 'ticket', '', 'memo', '1')
  n = n + 1
end
return {'appended', tostring(n)}
