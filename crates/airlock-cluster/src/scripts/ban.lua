-- Counts a request from a client address against the ban threshold.
-- KEYS: the ban (exists while banned), the address's request bucket.
-- ARGV: requests allowed per window, window ms, ban ms.
-- Returns {0} when allowed, {ms left, 1 if banned by this request}.
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  return {ttl, 0}
end
local capacity, window, ban = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local level, rate = level_of(KEYS[2], capacity, window, now)
if level >= 1 then
  store_level(KEYS[2], capacity, rate, level - 1, now)
  return {0}
end
redis.call('SET', KEYS[1], '1', 'PX', ban)
redis.call('DEL', KEYS[2])
return {ban, 1}
