--[[
  Creates a session for a user, applying the ban, the revocation cut-off and the
  session limits, all in one atomic step.

  KEYS[1]  user hash            KEYS[2]  revocation log (absent on Cluster)
  ARGV[1]  userId               ARGV[2]  localId (creation ms embedded)
  ARGV[3]  now (ms)             ARGV[4]  idle expiry (ms)
  ARGV[5]  absolute expiry (ms) ARGV[6]  refresh secret hash (16 bytes)
  ARGV[7]  device class         ARGV[8]  device metadata (bytes)
  ARGV[9]  max sessions         ARGV[10] policy: 'evict-oldest' | 'deny'
  ARGV[11] limit for this device class (0: none)
  ARGV[12] revocation ttl (ms)
  ARGV[13] '1' when the session is DPoP-bound (ARGV[6] then covers the key thumbprint)

  Returns { code, payload, pending events }:
     1  created; payload = evicted local ids
    -1  banned; payload = { ban end ms or 'p' }
    -2  session limit reached (policy deny)
    -3  local id not after the revocation cut-off; payload = { cut-off ms }
]]
local key, log_key = KEYS[1], KEYS[2] or ''
local user_id, local_id = ARGV[1], ARGV[2]
local now = tonumber(ARGV[3])
local max_sessions, policy, class_limit = tonumber(ARGV[9]), ARGV[10], tonumber(ARGV[11])
local class = ARGV[7]
local retention = tonumber(ARGV[12])

local fields, sessions = read_user(key)
if ban_active(fields, now) then return reply(-1, { fields['!ban'] }) end
if fields['!cut'] and created_ms(local_id) <= tonumber(fields['!cut']) then
  return reply(-3, { fields['!cut'] })
end

local live = {}
for _, s in ipairs(sessions) do
  if ends_at(s) <= now then delete_session(key, s.id) else live[#live + 1] = s end
end
table.sort(live, function(a, b)
  if a.created == b.created then return a.id < b.id end
  return a.created < b.created
end)

-- Which sessions must go for the new one to fit: oldest of its class first, then oldest overall.
local evict, gone = {}, {}
local total, in_class = #live, 0
for _, s in ipairs(live) do if s.class == class then in_class = in_class + 1 end end
if class_limit > 0 then
  for _, s in ipairs(live) do
    if in_class < class_limit then break end
    if s.class == class then evict[#evict + 1] = s.id; gone[s.id] = true; in_class = in_class - 1; total = total - 1 end
  end
end
for _, s in ipairs(live) do
  if total < max_sessions then break end
  if not gone[s.id] then evict[#evict + 1] = s.id; gone[s.id] = true; total = total - 1 end
end
if #evict > 0 and policy == 'deny' then return reply(-2) end

for _, id in ipairs(evict) do
  delete_session(key, id)
  emit(log_key, retention, { 'k', 's', 'u', user_id, 'l', id, 'r', 'evicted', 'a', ARGV[3] })
end

local state = { gen = 1, bound = ARGV[13] == '1', seen = now, idle = tonumber(ARGV[4]), abs = tonumber(ARGV[5]), hash = ARGV[6], prev = NO_HASH, class = class }
redis.call('HSET', key, local_id, pack_state(state), local_id .. '.', ARGV[8])
refresh_ttl(key, now, retention)
return reply(1, evict)
