--[[
  Lifts a ban.

  KEYS[1]  user hash
  ARGV[1]  now (ms)             ARGV[2]  revocation ttl (ms)

  Returns { code, payload, pending events }:
     1  a ban in force was lifted
     0  the user was not banned
]]
local key, now = KEYS[1], tonumber(ARGV[1])
local ban = redis.call('HGET', key, '!ban')
if not ban then return reply(0) end
redis.call('HDEL', key, '!ban', '!why')
refresh_ttl(key, now, tonumber(ARGV[2]))
if ban == 'p' or tonumber(ban) > now then return reply(1) end
return reply(0)
