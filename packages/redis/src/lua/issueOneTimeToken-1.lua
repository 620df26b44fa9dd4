--[[
  Stores the hash of a new one-time token, replacing any earlier token of the
  same user and purpose.

  KEYS[1]  one-time token hash
  ARGV[1]  secret hash (16 bytes)  ARGV[2]  expiry (ms)
  ARGV[3]  data

  Returns { code, payload, pending events }:
     1  stored
]]
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'h', ARGV[1], 'x', ARGV[2], 'a', 0, 'd', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return reply(1)
