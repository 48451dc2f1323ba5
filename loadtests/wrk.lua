-- loadtests/loadgen.py's requests through wrk: each request carries the next access token of
-- the file in turn (as the gevent generator does), and the statuses are counted.
-- Arguments after "--": tokens file, method, body file. Prints one line: WRK_JSON {...}.
local tokens, next_token, method, body = {}, 0, "GET", nil
statuses = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  method = args[2]
  local file = io.open(args[3])
  body = file:read("*a")
  file:close()
  if method == "GET" then body = nil end
end

function request()
  next_token = next_token % #tokens + 1
  return wrk.format(method, nil, {["Authorization"] = "Bearer " .. tokens[next_token],
                                  ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged, counted = {}, {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  for status, count in pairs(merged) do
    counted[#counted + 1] = string.format('"%d": %d', status, count)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "statuses": {%s}, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), table.concat(counted, ", "), e.connect, e.read, e.write, e.status,
    e.timeout))
end
