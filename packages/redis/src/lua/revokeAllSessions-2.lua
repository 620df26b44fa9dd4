--[[
  Ends every session of a user in one step, whatever their number and however
  many keys Redis holds: the sessions are fields of one hash. Without an
  exception, records a user-wide cut-off and logs one event; with one, logs one
  event per session ended. Also used by ban, which then sets the ban fields.

  The cut-off is the latest of now and the creation time of every session
  ended, so it covers sessions made by an instance whose clock runs ahead of
  ours (createSession makes later sessions newer than the cut-off). Each event
  carries in 'x' the latest expiry of any access token it revokes: the last
  refresh of the session plus the token horizon.

  KEYS[1]  user hash            KEYS[2]  revocation log (absent on Cluster)
  ARGV[1]  userId               ARGV[2]  now (ms)
  ARGV[3]  reason               ARGV[4]  revocation ttl (ms)
  ARGV[5]  local id to keep, or ''
  ARGV[6]  ban: '' (no ban), 'p' (permanent) or end ms
  ARGV[7]  ban reason            ARGV[8]  token horizon (ms): access-token lifetime + refresh grace

  Returns { code, payload, pending events }:
     n >= 0  number of live sessions ended
]]
local key, log_key = KEYS[1], KEYS[2] or ''
local user_id, now, reason, retention, keep = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), ARGV[5]
local horizon = tonumber(ARGV[8])
local _, sessions = read_user(key)
local count, newest, expires = 0, now, now
for _, s in ipairs(sessions) do
  if s.id ~= keep then
    delete_session(key, s.id)
    if ends_at(s) > now then count = count + 1 end
    if s.created > newest then newest = s.created end
    if s.seen + horizon > expires then expires = s.seen + horizon end
    if keep ~= '' then emit(log_key, retention, { 'k', 's', 'u', user_id, 'l', s.id, 'r', reason, 'a', ARGV[2], 'x', s.seen + horizon }) end
  end
end
if keep == '' then
  local cut = tonumber(redis.call('HGET', key, '!cut') or '0')
  if newest > cut then cut = newest end
  redis.call('HSET', key, '!cut', cut)
  emit(log_key, retention, { 'k', 'u', 'u', user_id, 'c', cut, 'r', reason, 'a', ARGV[2], 'x', expires })
end
if ARGV[6] ~= '' then redis.call('HSET', key, '!ban', ARGV[6], '!why', ARGV[7]) end
refresh_ttl(key, now, retention)
return reply(count)
