--[[
  Consumes a one-time token exactly once. A wrong secret counts an attempt;
  the token is destroyed when attempts run out.

  KEYS[1]  one-time token hash
  ARGV[1]  secret hash (16 bytes)  ARGV[2]  now (ms)
  ARGV[3]  max attempts

  Returns { code, payload, pending events }:
     1  consumed; payload = { data }
    -1  unknown, used, expired or out of attempts
    -2  wrong secret (attempt counted)
]]
local t = redis.call('HMGET', KEYS[1], 'h', 'x', 'd')
if not t[1] then return reply(-1) end
if tonumber(t[2]) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return reply(-1)
end
if t[1] ~= ARGV[1] then
  if redis.call('HINCRBY', KEYS[1], 'a', 1) >= tonumber(ARGV[3]) then redis.call('DEL', KEYS[1]) end
  return reply(-2)
end
redis.call('DEL', KEYS[1])
return reply(1, { t[3] })
