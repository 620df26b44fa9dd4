--[[
  Stores the hash of a new one-time token, replacing any earlier token of the
  same user and purpose. All of a user's one-time tokens are fields of one
  hash, four per purpose (<purpose>:h hash, :x expiry ms, :a attempts, :d data),
  so one step can end them all (revokeOneTimeTokens-1).

  KEYS[1]  the user's one-time token hash
  ARGV[1]  purpose              ARGV[2]  secret hash (16 bytes)
  ARGV[3]  expiry (ms)          ARGV[4]  data
  ARGV[5]  now (ms)

  Returns { code, payload, pending events }:
     1  stored
]]
local key, p, now = KEYS[1], ARGV[1], tonumber(ARGV[5])
redis.call('HSET', key, p .. ':h', ARGV[2], p .. ':x', ARGV[3], p .. ':a', 0, p .. ':d', ARGV[4])
-- The hash lives as long as its longest-lived token; expired ones are dropped on the way.
local flat = redis.call('HGETALL', key)
local until_ms = 0
for i = 1, #flat, 2 do
  local name = flat[i]
  if string.sub(name, -2) == ':x' then
    local x = tonumber(flat[i + 1])
    local purpose = string.sub(name, 1, -3)
    if x <= now then
      redis.call('HDEL', key, purpose .. ':h', purpose .. ':x', purpose .. ':a', purpose .. ':d')
    elseif x > until_ms then
      until_ms = x
    end
  end
end
if until_ms > 0 then redis.call('PEXPIREAT', key, until_ms) end
return reply(1)
