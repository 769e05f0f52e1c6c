-- Admits a request against every check, or against none (checked first,
-- then applied, in one atomic call). KEYS[i] is check i's counter.
-- ARGV: prefix, instance, lease ms, then four per check: kind, a, b, c.
--   'c' concurrency: a = most in flight (summed over live instances)
--   'r' rate bucket: a = capacity, b = period in ms, c = cost
--   'b' budget:      a = limit, b = this request's reserved estimate
-- Returns {status, index, retry_ms, then remaining and reset_ms per check}:
-- status 1 admitted, 0 refused by check `index`, 2 budget `index` unknown
-- (its spend is to be seeded from the database).
local prefix, instance = ARGV[1], ARGV[2]
-- Whatever the heartbeat task managed, an instance admitting is alive.
redis.call('SET', prefix .. ':instance:' .. instance, '1', 'PX', ARGV[3])
local now = now_ms()
local n = #KEYS
local levels, rates = {}, {}
local out = {1, 0, 0}
for i = 1, n do
  local kind = ARGV[4 + (i - 1) * 4]
  local a = tonumber(ARGV[5 + (i - 1) * 4])
  local b = tonumber(ARGV[6 + (i - 1) * 4])
  local c = tonumber(ARGV[7 + (i - 1) * 4])
  local remaining, reset = 0, 0
  if kind == 'c' then
    if live_sum(KEYS[i], prefix, nil) >= a then
      return {0, i, 1000}
    end
  elseif kind == 'r' then
    local level, rate = level_of(KEYS[i], a, b, now)
    local cost = math.min(c, a)
    if level < cost then
      return {0, i, math.ceil((cost - level) / rate), math.floor(math.max(level, 0)),
        math.ceil((a - level) / rate)}
    end
    levels[i], rates[i] = level - cost, rate
    remaining = math.floor(math.max(level - cost, 0))
    reset = math.ceil((a - level + cost) / rate)
  elseif kind == 'b' then
    local reserved, spent = live_sum(KEYS[i], prefix, 's')
    if spent == nil then
      return {2, i, 0}
    end
    if spent + reserved >= a then
      return {0, i, 0}
    end
  end
  out[#out + 1] = remaining
  out[#out + 1] = reset
end
for i = 1, n do
  local kind = ARGV[4 + (i - 1) * 4]
  if kind == 'c' then
    redis.call('HINCRBY', KEYS[i], instance, 1)
    redis.call('PEXPIRE', KEYS[i], 86400000)
  elseif kind == 'r' then
    store_level(KEYS[i], tonumber(ARGV[5 + (i - 1) * 4]), rates[i], levels[i], now)
  elseif kind == 'b' then
    local reserve = tonumber(ARGV[6 + (i - 1) * 4])
    if reserve > 0 then
      redis.call('HINCRBYFLOAT', KEYS[i], instance, ARGV[6 + (i - 1) * 4])
    end
  end
end
return out
