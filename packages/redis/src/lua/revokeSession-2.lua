--[[
  Ends one session and logs it.

  KEYS[1]  user hash            KEYS[2]  revocation log (absent on Cluster)
  ARGV[1]  userId               ARGV[2]  localId
  ARGV[3]  now (ms)             ARGV[4]  reason
  ARGV[5]  revocation ttl (ms)

  Returns { code, payload, pending events }:
     1  revoked
     0  no such session (nothing logged)
]]
local key, log_key = KEYS[1], KEYS[2] or ''
local now, retention = tonumber(ARGV[3]), tonumber(ARGV[5])
if delete_session(KEYS[1], ARGV[2]) == 0 then return reply(0) end
emit(log_key, retention, { 'k', 's', 'u', ARGV[1], 'l', ARGV[2], 'r', ARGV[4], 'a', ARGV[3] })
refresh_ttl(key, now, retention)
return reply(1)
