--[[
  Gives up on a queue item: it leaves the delivery stream and is appended to
  the dead-letter stream, which keeps about the newest ARGV[4] entries.

  KEYS[1]  delivery stream      KEYS[2]  dead-letter stream
  ARGV[1]  consumer group       ARGV[2]  stream entry id
  ARGV[3]  the item's fields as JSON, with failure time and error
  ARGV[4]  dead letters kept

  Returns { code, payload, pending events }:
     1  dead-lettered
     0  it was settled already (by another consumer that took it over)
]]
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return reply(0) end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'j', ARGV[3])
return reply(1)
