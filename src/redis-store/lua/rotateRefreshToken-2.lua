--[[
  The atomic step inside refresh: check the presented generation and hash,
  bump the generation, store the successor's hash, slide the idle expiry.
  The caller has already authenticated the token (its tag), so an older
  generation here is a real superseded token: reuse.

  KEYS[1]  user hash            KEYS[2]  revocation log (absent on Cluster)
  ARGV[1]  userId               ARGV[2]  localId
  ARGV[3]  presented generation ARGV[4]  presented secret hash (16 bytes)
  ARGV[5]  successor hash       ARGV[6]  now (ms)
  ARGV[7]  idle ttl (ms)        ARGV[8]  grace (ms)
  ARGV[9]  revocation ttl (ms)   ARGV[10] token horizon (ms): access-token lifetime + refresh grace

  Returns { code, payload, pending events }:
     1  rotated; payload = { generation, lastSeenMs, idleMs, absMs, class, metadata }
     2  retried inside the grace window: same successor; payload as for 1
    -1  no such session
    -2  session expired (idle or absolute); it is removed
    -3  reuse detected: the session is revoked and the event logged
    -4  token does not match the session (not ours)

  Hashes are compared with Lua string equality: strings are interned, so
  equality is a pointer comparison and takes the same time whatever the bytes.
]]
local key, log_key = KEYS[1], KEYS[2] or ''
local user_id, local_id = ARGV[1], ARGV[2]
local gen, presented, successor = tonumber(ARGV[3]), ARGV[4], ARGV[5]
local now, idle_ttl, grace, retention = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])

local packed = redis.call('HGET', key, local_id)
if not packed then return reply(-1) end
local s = unpack_state(packed)

if ends_at(s) <= now then
  delete_session(key, local_id)
  refresh_ttl(key, now, retention)
  return reply(-2)
end

local function answer(code)
  return reply(code, { s.gen, s.seen, s.idle, s.abs, s.class, redis.call('HGET', key, local_id .. '.') or '' })
end

if gen == s.gen then
  if presented ~= s.hash then return reply(-4) end
  s.gen = s.gen + 1
  s.prev = s.hash
  s.hash = successor
  s.seen = now
  s.idle = math.min(now + idle_ttl, s.abs)
  redis.call('HSET', key, local_id, pack_state(s))
  refresh_ttl(key, now, retention)
  return answer(1)
end

if gen == s.gen - 1 then
  if presented ~= s.prev then return reply(-4) end
  -- Racers and retries with the token just replaced land on the same lineage.
  if now - s.seen <= grace and successor == s.hash then return answer(2) end
end

if gen < s.gen then
  delete_session(key, local_id)
  emit(log_key, retention, { 'k', 's', 'u', user_id, 'l', local_id, 'r', 'refresh_reuse_detected', 'a', ARGV[6], 'x', s.seen + tonumber(ARGV[10]) })
  refresh_ttl(key, now, retention)
  return reply(-3)
end
return reply(-4)
