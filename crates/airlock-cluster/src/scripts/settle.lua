-- Settles what an admission held. KEYS[i] is item i's counter.
-- ARGV: prefix, instance, then three per item: kind, a, b.
--   'r' rate bucket: a = capacity, b = tokens to charge (negative refunds)
--   'b' budget:      a = the real cost, b = the reservation to release
--   'c' concurrency: one request of this instance ended
-- Returns, per item, the budget's spend after it ('' for other kinds).
local prefix, instance = ARGV[1], ARGV[2]
local out = {}
for i = 1, #KEYS do
  local kind = ARGV[3 + (i - 1) * 3]
  local a = ARGV[4 + (i - 1) * 3]
  local b = ARGV[5 + (i - 1) * 3]
  local result = ''
  if kind == 'r' then
    local capacity = tonumber(a)
    local level = tonumber(redis.call('HGET', KEYS[i], 'l')) or capacity
    redis.call('HSET', KEYS[i], 'l', tostring(math.min(capacity, level - tonumber(b))))
    if redis.call('HEXISTS', KEYS[i], 'u') == 0 then
      redis.call('HSET', KEYS[i], 'u', now_ms())
    end
    redis.call('PEXPIRE', KEYS[i], 3600000)
  elseif kind == 'b' then
    if tonumber(a) > 0 and redis.call('HEXISTS', KEYS[i], 's') == 1 then
      result = redis.call('HINCRBYFLOAT', KEYS[i], 's', a)
    end
    if tonumber(b) > 0 then
      local left = tonumber(redis.call('HINCRBYFLOAT', KEYS[i], instance, '-' .. b))
      if left <= 1e-12 then
        redis.call('HDEL', KEYS[i], instance)
      end
    end
  elseif kind == 'c' then
    if redis.call('HINCRBY', KEYS[i], instance, -1) <= 0 then
      redis.call('HDEL', KEYS[i], instance)
    end
  end
  out[#out + 1] = result
end
return out
