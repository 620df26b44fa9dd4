--[[
  Denies one access token id until it expires, and logs it.

  KEYS[1]  denied token id key  KEYS[2]  revocation log (absent on Cluster)
  ARGV[1]  userId               ARGV[2]  token id
  ARGV[3]  token expiry (ms)    ARGV[4]  now (ms)
  ARGV[5]  log retention (ms)

  Returns { code, payload, pending events }:
     1  denied
]]
redis.call('SET', KEYS[1], '1', 'PXAT', ARGV[3])
emit(KEYS[2] or '', tonumber(ARGV[5]), { 'k', 't', 'u', ARGV[1], 'j', ARGV[2], 'x', ARGV[3], 'a', ARGV[4] })
return reply(1)
