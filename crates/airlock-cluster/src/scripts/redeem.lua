-- Spends one use of an ephemeral token. KEYS[1]: the token. ARGV: now ms
-- (the gateway's clock, as the token's expiry was set by one).
-- Returns {0} no such token, {1} expired, {2} used up,
-- {3, key id, model, expires ms} redeemed.
local v = redis.call('HMGET', KEYS[1], 'key', 'model', 'expires', 'uses')
if not v[1] then
  return {0}
end
if tonumber(v[3]) <= tonumber(ARGV[1]) then
  return {1}
end
local uses = tonumber(v[4])
if uses == 0 then
  return {2}
end
if uses > 0 then
  redis.call('HINCRBY', KEYS[1], 'uses', -1)
end
return {3, v[1], v[2], v[3]}
