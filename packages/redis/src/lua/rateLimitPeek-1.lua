--[[
  Reads a fixed-window counter without counting a hit (whether one more would
  be allowed). Reads only.

  KEYS[1]  counter

  Returns { code, payload, pending events }:
     1  read; payload { hits in this window (0: none), ms until it ends (PTTL: -2 no counter) }
]]
return reply(1, { tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1]) })
