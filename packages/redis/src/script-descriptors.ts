/**
 * Every Lua command described once: its file, its KEYS, its ARGV (by name, in
 * order) and its reply codes (by name), as node-redis `defineScript` and
 * BullMQ's `ErrorCode` enum do. Callers pass arguments by name and switch on
 * reply names; no caller counts ARGV positions or compares bare numbers, and a
 * reply code a descriptor does not list is an error (see `Scripts.call`). The
 * Lua headers say the same, and `test/script-descriptors.test.ts` checks that
 * they agree.
 */

/** What one Lua command takes and answers. */
export interface ScriptDescriptor<Arg extends string = string, Reply extends string = string> {
  /** `<name>-<number of KEYS>.lua` in `lua/`. */
  file: string
  /** KEYS in order; a name ending in `?` may be left off (the revocation log, absent on Cluster). `variadic`: repeated groups. */
  keys: readonly string[] | 'variadic'
  /** ARGV in order, by name. `variadic`: ARGV is a list of any length instead. */
  argv: readonly Arg[] | 'variadic'
  /** Named reply codes. */
  replies: Readonly<Record<Reply, number>>
  /** A code n >= 0 that is not named above is a count (sessions ended, items moved). */
  counts?: boolean
  /** Reads only: EVALSHA_RO, so it may run on a replica. */
  readOnly?: boolean
  /** Its writes are revocations, waited for with `durability`. */
  revocation?: boolean
  /** The ARGV entry that holds the revocation log's retention (ms), for scripts that log events. */
  retention?: Arg
  /** The payload holds bytes: read it as Buffers. */
  buffers?: boolean
}

/** Checks a descriptor's shape and keeps its literal types (ARGV and reply names). */
function defineScript<const D extends ScriptDescriptor>(descriptor: D): D {
  return descriptor
}

export const SCRIPTS = {
  createSession: defineScript({
    file: 'createSession-2.lua',
    keys: ['user hash', 'revocation log?'],
    argv: [
      'userId',
      'localId',
      'nowMs',
      'idleExpiresAtMs',
      'absoluteExpiresAtMs',
      'refreshSecretHash',
      'deviceClass',
      'metadata',
      'maxSessions',
      'policy',
      'deviceClassLimit',
      'revocationTtlMs',
      'dpopBound',
      'tokenHorizonMs',
    ],
    replies: { created: 1, banned: -1, limitReached: -2, beforeCutoff: -3 },
    retention: 'revocationTtlMs',
  }),
  rotateRefreshToken: defineScript({
    file: 'rotateRefreshToken-2.lua',
    keys: ['user hash', 'revocation log?'],
    argv: ['userId', 'localId', 'generation', 'presentedHash', 'successorHash', 'nowMs', 'idleTtlMs', 'graceMs', 'revocationTtlMs', 'presentedBoundHash', 'bind', 'tokenHorizonMs'],
    replies: { rotated: 1, retried: 2, notFound: -1, expired: -2, reused: -3, mismatch: -4, keyMismatch: -5 },
    retention: 'revocationTtlMs',
    buffers: true,
  }),
  checkAccessToken: defineScript({
    file: 'checkAccessToken-2.lua',
    keys: ['user hash', 'denied token id'],
    argv: ['localId', 'sessionCreatedAtMs', 'nowMs'],
    replies: { active: 1, sessionEnded: -1, tokenDenied: -2, userRevoked: -3 },
    readOnly: true,
  }),
  checkAccessTokens: defineScript({
    file: 'checkAccessTokens-n.lua',
    // Per check i, the KEYS and the ARGV of checkAccessToken (AccessCheckBatch builds them from that descriptor).
    keys: 'variadic',
    argv: 'variadic',
    // The payload holds one checkAccessToken reply code per check, in order.
    replies: { checked: 1 },
    readOnly: true,
  }),
  revokeSession: defineScript({
    file: 'revokeSession-2.lua',
    keys: ['user hash', 'revocation log?'],
    argv: ['userId', 'localId', 'nowMs', 'reason', 'revocationTtlMs', 'tokenHorizonMs'],
    replies: { revoked: 1, notFound: 0 },
    revocation: true,
    retention: 'revocationTtlMs',
  }),
  revokeAllSessions: defineScript({
    file: 'revokeAllSessions-2.lua',
    keys: ['user hash', 'revocation log?'],
    argv: ['userId', 'nowMs', 'reason', 'revocationTtlMs', 'exceptLocalId', 'ban', 'banReason', 'tokenHorizonMs'],
    replies: {},
    counts: true,
    revocation: true,
    retention: 'revocationTtlMs',
  }),
  unbanUser: defineScript({
    file: 'unbanUser-1.lua',
    keys: ['user hash'],
    argv: ['nowMs', 'revocationTtlMs'],
    replies: { lifted: 1, notBanned: 0 },
  }),
  denyToken: defineScript({
    file: 'denyToken-2.lua',
    keys: ['denied token id', 'revocation log?'],
    argv: ['userId', 'tokenId', 'expiresAtMs', 'nowMs', 'retentionMs'],
    replies: { denied: 1 },
    revocation: true,
    retention: 'retentionMs',
  }),
  issueOneTimeToken: defineScript({
    file: 'issueOneTimeToken-1.lua',
    keys: ['one-time token hash'],
    argv: ['purpose', 'secretHash', 'expiresAtMs', 'data', 'nowMs'],
    replies: { stored: 1 },
  }),
  consumeOneTimeToken: defineScript({
    file: 'consumeOneTimeToken-1.lua',
    keys: ['one-time token hash'],
    argv: ['purpose', 'secretHash', 'nowMs', 'maxAttempts'],
    replies: { consumed: 1, unknown: -1, wrongSecret: -2 },
  }),
  revokeOneTimeTokens: defineScript({
    file: 'revokeOneTimeTokens-1.lua',
    keys: ['one-time token hash'],
    argv: 'variadic',
    replies: {},
    counts: true,
  }),
  ackDelivery: defineScript({
    file: 'ackDelivery-1.lua',
    keys: ['delivery stream'],
    argv: ['group', 'entryId'],
    replies: { settled: 1, settledAlready: 0 },
  }),
  retryDelivery: defineScript({
    file: 'retryDelivery-2.lua',
    keys: ['delivery stream', 'retry set'],
    argv: ['group', 'entryId', 'dueAtMs', 'fields'],
    replies: { scheduled: 1, settledAlready: 0 },
  }),
  deadLetterDelivery: defineScript({
    file: 'deadLetterDelivery-2.lua',
    keys: ['delivery stream', 'dead-letter stream'],
    argv: ['group', 'entryId', 'fields', 'kept'],
    replies: { deadLettered: 1, settledAlready: 0 },
  }),
  promoteDeliveries: defineScript({
    file: 'promoteDeliveries-2.lua',
    keys: ['retry set', 'delivery stream'],
    argv: ['nowMs', 'count'],
    replies: {},
    counts: true,
  }),
  forgetIdleConsumers: defineScript({
    file: 'forgetIdleConsumers-1.lua',
    keys: ['delivery stream'],
    argv: ['group', 'idleMs', 'self'],
    replies: {},
    counts: true,
  }),
  rateLimitHit: defineScript({
    file: 'rateLimitHit-2.lua',
    keys: ['rate-limit counter', 'lockout strikes'],
    argv: ['windowMs', 'max', 'lockoutCapMs', 'strikeMemoryMs'],
    replies: { counted: 1 },
  }),
  rateLimitPeek: defineScript({
    file: 'rateLimitPeek-1.lua',
    keys: ['rate-limit counter'],
    argv: [],
    replies: { read: 1 },
    readOnly: true,
  }),
  writeSigningKeys: defineScript({
    file: 'writeSigningKeys-1.lua',
    keys: ['signing key set hash'],
    argv: ['expectedVersion', 'document'],
    replies: { written: 1, conflict: -1 },
  }),
} as const

/** Names of the commands in `lua/`. */
export type ScriptName = keyof typeof SCRIPTS

/** The ARGV names of a script. */
export type ArgOf<D> = D extends { argv: readonly (infer Arg extends string)[] } ? Arg : never
/** The reply names of a script (`count` for a script that counts). */
export type ReplyOf<D> = D extends { replies: infer R } ? Extract<keyof R, string> | (D extends { counts: true } ? 'count' : never) : never
