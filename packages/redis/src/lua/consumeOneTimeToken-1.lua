--[[
  Consumes a one-time token exactly once. A wrong secret counts an attempt;
  the token is destroyed when attempts run out.

  KEYS[1]  the user's one-time token hash (fields: see issueOneTimeToken-1)
  ARGV[1]  purpose              ARGV[2]  secret hash (16 bytes)
  ARGV[3]  now (ms)             ARGV[4]  max attempts

  Returns { code, payload, pending events }:
     1  consumed; payload = { data }
    -1  unknown, used, expired, revoked or out of attempts
    -2  wrong secret (attempt counted)
]]
local key, p = KEYS[1], ARGV[1]
local t = redis.call('HMGET', key, p .. ':h', p .. ':x', p .. ':d')
if not t[1] then return reply(-1) end
local function drop()
  redis.call('HDEL', key, p .. ':h', p .. ':x', p .. ':a', p .. ':d')
end
if tonumber(t[2]) <= tonumber(ARGV[3]) then
  drop()
  return reply(-1)
end
if t[1] ~= ARGV[2] then
  if redis.call('HINCRBY', key, p .. ':a', 1) >= tonumber(ARGV[4]) then drop() end
  return reply(-2)
end
drop()
return reply(1, { t[3] })
