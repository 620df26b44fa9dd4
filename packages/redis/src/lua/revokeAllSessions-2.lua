--[[
  Ends every session of a user in one step, whatever their number and however
  many keys Redis holds: the sessions are fields of one hash. Without an
  exception, records a user-wide cut-off (sessions created at or before now are
  revoked) and logs one event; with one, logs one event per session ended.
  Also used by ban, which then sets the ban fields.

  KEYS[1]  user hash            KEYS[2]  revocation log (absent on Cluster)
  ARGV[1]  userId               ARGV[2]  now (ms)
  ARGV[3]  reason               ARGV[4]  revocation ttl (ms)
  ARGV[5]  local id to keep, or ''
  ARGV[6]  ban: '' (no ban), 'p' (permanent) or end ms
  ARGV[7]  ban reason

  Returns { code, payload, pending events }:
     n >= 0  number of live sessions ended
]]
local key, log_key = KEYS[1], KEYS[2] or ''
local user_id, now, reason, retention, keep = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), ARGV[5]
local _, sessions = read_user(key)
local count = 0
for _, s in ipairs(sessions) do
  if s.id ~= keep then
    delete_session(key, s.id)
    if ends_at(s) > now then count = count + 1 end
    if keep ~= '' then emit(log_key, retention, { 'k', 's', 'u', user_id, 'l', s.id, 'r', reason, 'a', ARGV[2] }) end
  end
end
if keep == '' then
  local cut = tonumber(redis.call('HGET', key, '!cut') or '0')
  if now > cut then cut = now end
  redis.call('HSET', key, '!cut', cut)
  emit(log_key, retention, { 'k', 'u', 'u', user_id, 'c', cut, 'r', reason, 'a', ARGV[2] })
end
if ARGV[6] ~= '' then redis.call('HSET', key, '!ban', ARGV[6], '!why', ARGV[7]) end
refresh_ttl(key, now, retention)
return reply(count)
