--[[
  Ends a user's outstanding one-time tokens: those of the purposes given, or
  all of them. A password change ends the reset links mailed before it; a ban
  ends every link.

  KEYS[1]  the user's one-time token hash (fields: see issueOneTimeToken-1)
  ARGV[1..n]  purposes; none: every purpose

  Returns { code, payload, pending events }:
     n >= 0  number of tokens ended (expired ones included)
]]
local key = KEYS[1]
if #ARGV == 0 then
  local count = 0
  for _, name in ipairs(redis.call('HKEYS', key)) do
    if string.sub(name, -2) == ':h' then count = count + 1 end
  end
  redis.call('DEL', key)
  return reply(count)
end
local count = 0
for _, p in ipairs(ARGV) do
  if redis.call('HDEL', key, p .. ':h', p .. ':x', p .. ':a', p .. ':d') > 0 then count = count + 1 end
end
return reply(count)
