--[[
  Removes consumers of the delivery group that hold no item and have not
  tried to read for `idle ms`: instances that crashed or were replaced. Each
  instance joins the group under a name of its own, so without this the group
  would keep every name it ever saw. An item a dead consumer still holds is
  taken over by XAUTOCLAIM after the lease first; only then is the consumer
  empty and removed. Atomic, so no item can be handed to a consumer between
  the check and the removal (XGROUP DELCONSUMER drops what a consumer holds).

  KEYS[1]  delivery stream
  ARGV[1]  consumer group       ARGV[2]  idle ms       ARGV[3]  the caller's consumer (never removed)

  Returns { code, payload, pending events }:
     n >= 0  consumers removed; payload = their names
]]
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
-- No stream or no group (deleted by hand): nothing to forget; the next take makes the group again.
if not ok then return reply(0) end
local idle_ms = tonumber(ARGV[2])
local removed = {}
for _, flat in ipairs(consumers) do
  local c = {}
  for i = 1, #flat, 2 do c[flat[i]] = flat[i + 1] end
  if c.name ~= ARGV[3] and tonumber(c.pending) == 0 and tonumber(c.idle) >= idle_ms then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], c.name)
    removed[#removed + 1] = c.name
  end
end
return reply(#removed, removed)
