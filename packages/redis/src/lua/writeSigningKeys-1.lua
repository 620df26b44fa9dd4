--[[
  Replaces the fleet's signing key set if nobody replaced it since the caller
  read it (compare-and-set), so two instances rotating at once cannot lose a
  key: the second one is told and tries again on top of the first.

  KEYS[1]  key set hash: field v (version), field d (sealed document)
  ARGV[1]  version the caller read (0: nothing stored yet)
  ARGV[2]  new sealed document

  The hash has no TTL: the fleet needs its keys for as long as it runs.

  Returns { code, payload, pending events }:
     1  written; payload { new version }
    -1  version conflict; payload { stored version, stored document } (0, '' when none)
]]
local stored = redis.call('HMGET', KEYS[1], 'v', 'd')
local version = tonumber(stored[1]) or 0
if version ~= tonumber(ARGV[1]) then
  return reply(-1, { version, stored[2] or '' })
end
redis.call('HSET', KEYS[1], 'v', version + 1, 'd', ARGV[2])
return reply(1, { version + 1 })
