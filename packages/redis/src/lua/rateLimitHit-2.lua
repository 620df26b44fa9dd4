--[[
  Counts one hit in a fixed window (the server's rate limits). The TTL is set
  with the first hit, so a counter can never outlive its window (or its
  lockout); one round trip. With back-off on, the hit that first goes over
  the limit adds a strike, and the lockout (the counter's TTL) doubles with
  each strike remembered, up to the cap.

  KEYS[1]  counter             KEYS[2]  lockout strikes (same hash tag)
  ARGV[1]  window (ms)         ARGV[2]  max hits per window
  ARGV[3]  back-off cap (ms), 0: off
  ARGV[4]  how long strikes are remembered (ms)

  Returns { code, payload, pending events }:
     1  counted; payload { hits in this window, ms until it ends }
]]
local window_ms, max = tonumber(ARGV[1]), tonumber(ARGV[2])
local cap_ms = tonumber(ARGV[3])
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = window_ms end
if n == max + 1 and cap_ms > 0 then
  local strikes = redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  local lock = math.min(window_ms * 2 ^ (strikes - 1), cap_ms)
  if lock > ttl then redis.call('PEXPIRE', KEYS[1], math.floor(lock)) ttl = math.floor(lock) end
end
return reply(1, { n, ttl })
