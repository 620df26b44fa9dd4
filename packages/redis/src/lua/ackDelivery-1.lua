--[[
  Settles a delivered queue item: acknowledged and deleted, so the stream
  holds only undelivered items.

  KEYS[1]  delivery stream
  ARGV[1]  consumer group       ARGV[2]  stream entry id

  Returns { code, payload, pending events }:
     1  the item was settled
     0  it was settled already (by another consumer that took it over)
]]
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return reply(0) end
redis.call('XDEL', KEYS[1], ARGV[2])
return reply(1)
