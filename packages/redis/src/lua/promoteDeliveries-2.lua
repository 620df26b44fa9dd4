--[[
  Moves retries whose time has come from the retry set back into the delivery
  stream, where any consumer of the group takes them. Atomic, so two
  instances promoting at once never duplicate an item.

  KEYS[1]  retry sorted set     KEYS[2]  delivery stream
  ARGV[1]  now (ms)             ARGV[2]  most items to move

  Returns { code, payload, pending events }: code = how many moved.
]]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'j', member)
  redis.call('ZREM', KEYS[1], member)
end
return reply(#due)
