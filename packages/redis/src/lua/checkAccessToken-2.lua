--[[
  Strict verification, read-only: is the session alive, is the token id not
  denied, was the user not revoked after the session began?

  KEYS[1]  user hash            KEYS[2]  denied token id key
  ARGV[1]  localId              ARGV[2]  session creation (ms)
  ARGV[3]  now (ms)

  Returns { code, payload, pending events }:
     1  active
    -1  session ended (revoked, expired or never existed)
    -2  token id denied
    -3  user revoked (all sessions or ban) after the session began
]]
local values = redis.call('HMGET', KEYS[1], ARGV[1], '!cut')
local now = tonumber(ARGV[3])
if values[2] and tonumber(ARGV[2]) <= tonumber(values[2]) then return reply(-3) end
if not values[1] then return reply(-1) end
if ends_at(unpack_state(values[1])) <= now then return reply(-1) end
if redis.call('EXISTS', KEYS[2]) == 1 then return reply(-2) end
return reply(1)
