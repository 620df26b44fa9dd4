--[[
  Ends one session and logs it.

  KEYS[1]  user hash            KEYS[2]  revocation log (absent on Cluster)
  ARGV[1]  userId               ARGV[2]  localId
  ARGV[3]  now (ms)             ARGV[4]  reason
  ARGV[5]  revocation ttl (ms)   ARGV[6]  token horizon (ms): access-token lifetime + refresh grace

  Returns { code, payload, pending events }:
     1  revoked
     0  no such session (nothing logged)
]]
local key, log_key = KEYS[1], KEYS[2] or ''
local now, retention, horizon = tonumber(ARGV[3]), tonumber(ARGV[5]), tonumber(ARGV[6])
local packed = redis.call('HGET', key, ARGV[2])
if not packed then return reply(0) end
local s = unpack_state(packed)
delete_session(key, ARGV[2])
emit(log_key, retention, { 'k', 's', 'u', ARGV[1], 'l', ARGV[2], 'r', ARGV[4], 'a', ARGV[3], 'x', s.seen + horizon })
refresh_ttl(key, now, retention)
return reply(1)
