-- Shared by every script (prepended to each). Time is the server's, so
-- instances with skewed clocks still share one timeline.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- An instance is live while its heartbeat key exists (asked once a call:
-- a request's checks mostly name the same few instances).
local alive = {}
local function live(prefix, instance)
  local known = alive[instance]
  if known == nil then
    known = redis.call('EXISTS', prefix .. ':instance:' .. instance) == 1
    alive[instance] = known
  end
  return known
end

-- A token bucket's level now: full when absent, refilled at capacity per
-- period since it was last updated, never above capacity.
local function level_of(key, capacity, period_ms, now)
  local v = redis.call('HMGET', key, 'l', 'u')
  local rate = capacity / period_ms
  local level, updated = tonumber(v[1]), tonumber(v[2])
  if level == nil then
    return capacity, rate
  end
  return math.min(capacity, level + math.max(0, now - updated) * rate), rate
end

-- Stores a bucket's level; the key lives until the bucket would be full.
local function store_level(key, capacity, rate, level, now)
  redis.call('HSET', key, 'l', tostring(level), 'u', now)
  redis.call('PEXPIRE', key, math.ceil((capacity - level) / rate) + 1000)
end

-- The sum of a hash's per-instance counts, dropping dead instances' fields
-- (their requests ended with them). `skip` names a field that is not an
-- instance's; its value is returned apart.
local function live_sum(key, prefix, skip)
  local fields = redis.call('HGETALL', key)
  local total, skipped = 0, nil
  for i = 1, #fields, 2 do
    local field, value = fields[i], tonumber(fields[i + 1])
    if field == skip then
      skipped = value
    elseif live(prefix, field) then
      total = total + value
    else
      redis.call('HDEL', key, field)
    end
  end
  return total, skipped, #fields
end
