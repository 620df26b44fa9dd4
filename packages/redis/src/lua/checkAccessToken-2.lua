--[[
  Strict verification, read-only: is the session alive, is the token id not
  denied, was the user not revoked after the session began?

  KEYS[1]  user hash            KEYS[2]  denied token id key
  ARGV[1]  localId              ARGV[2]  session creation (ms)
  ARGV[3]  now (ms)

  Returns { code, payload, pending events }, code as check_access says:
     1  active
    -1  session ended (revoked, expired or never existed)
    -2  token id denied
    -3  user revoked (all sessions or ban) after the session began
]]
return reply(check_access(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]))
