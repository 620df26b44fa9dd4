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
  ARGV[9]  revocation ttl (ms)
  ARGV[10] presented secret hash with the DPoP key thumbprint ('' without a proof)
  ARGV[11] '1' when the request proved a key: ARGV[5] covers it and the session is (or becomes) bound
  ARGV[12] token horizon (ms): access-token lifetime + refresh grace

  Returns { code, payload, pending events }:
     1  rotated; payload = { generation, lastSeenMs, idleMs, absMs, class, metadata, bound (1/0) }
     2  retried inside the grace window: same successor; payload as for 1
    -1  no such session
    -2  session expired (idle or absolute); it is removed
    -3  reuse detected: the session is revoked and the event logged;
        payload = { class, metadata } of the revoked session (its device, for the reuse event)
    -4  token does not match the session (not ours)
    -5  the session is DPoP-bound and the request did not prove its key: treated
        as theft, like reuse: the session is revoked and the event logged

  Hashes are compared with Lua string equality: strings are interned, so
  equality is a pointer comparison and takes the same time whatever the bytes.
]]
local key, log_key = KEYS[1], KEYS[2] or ''
local user_id, local_id = ARGV[1], ARGV[2]
local gen, presented, successor = tonumber(ARGV[3]), ARGV[4], ARGV[5]
local now, idle_ttl, grace, retention = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local presented_bound, bind = ARGV[10] or '', ARGV[11] == '1'

local packed = redis.call('HGET', key, local_id)
if not packed then return reply(-1) end
local s = unpack_state(packed)

if ends_at(s) <= now then
  delete_session(key, local_id)
  refresh_ttl(key, now, retention)
  return reply(-2)
end

local function answer(code)
  return reply(code, { s.gen, s.seen, s.idle, s.abs, s.class, redis.call('HGET', key, local_id .. '.') or '', s.bound and 1 or 0 })
end

-- A refresh token copied off its device, sent without the key's proof or with another key's.
local function key_mismatch()
  delete_session(key, local_id)
  emit(log_key, retention, { 'k', 's', 'u', user_id, 'l', local_id, 'r', 'dpop_key_mismatch', 'a', ARGV[6] })
  refresh_ttl(key, now, retention)
  return reply(-5)
end

if gen == s.gen then
  local matches
  if s.bound then matches = presented_bound ~= '' and presented_bound == s.hash else matches = presented == s.hash end
  if not matches then
    if s.bound then return key_mismatch() end
    return reply(-4)
  end
  s.bound = bind
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
  if presented ~= s.prev and (presented_bound == '' or presented_bound ~= s.prev) then
    if s.bound then return key_mismatch() end
    return reply(-4)
  end
  -- Racers and retries with the token just replaced land on the same lineage.
  if now - s.seen <= grace and successor == s.hash then return answer(2) end
end

if gen < s.gen then
  local metadata = redis.call('HGET', key, local_id .. '.') or ''
  delete_session(key, local_id)
  emit(log_key, retention, { 'k', 's', 'u', user_id, 'l', local_id, 'r', 'refresh_reuse_detected', 'a', ARGV[6], 'x', s.seen + tonumber(ARGV[12]) })
  refresh_ttl(key, now, retention)
  return reply(-3, { s.class, metadata })
end
return reply(-4)
