--[[
  Many strict verifications in one call, read-only: the checks that arrived in
  one turn of the client's event loop (AccessCheckBatch). One call instead of
  one per check saves the client a command's encoding, reply parsing and
  promise per check; Redis does the same reads either way.

  For check i (1-based):
    KEYS[2i-1]  user hash         KEYS[2i]  denied token id key
    ARGV[3i-2]  localId           ARGV[3i-1]  session creation (ms)
    ARGV[3i]    now (ms)

  Returns { 1, { code per check, in order }, pending events }, codes as
  check_access says (1 active, -1 session ended, -2 token id denied, -3 user revoked).
]]
local codes = {}
for i = 1, #KEYS / 2 do
  codes[i] = check_access(KEYS[2 * i - 1], KEYS[2 * i], ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i])
end
return reply(1, codes)
