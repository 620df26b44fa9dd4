--[[
  Schedules another attempt of a queue item: it leaves the stream (acked and
  deleted) and waits in the retry set until its time; promoteDeliveries-2
  puts it back. One step, so an item is never both waiting and pending.

  KEYS[1]  delivery stream      KEYS[2]  retry sorted set (score: due time, ms)
  ARGV[1]  consumer group       ARGV[2]  stream entry id
  ARGV[3]  due time (ms)        ARGV[4]  the item's fields as JSON, attempt already counted

  Returns { code, payload, pending events }:
     1  scheduled
     0  it was settled already (by another consumer that took it over)
]]
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return reply(0) end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return reply(1)
