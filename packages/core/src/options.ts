import { randomBytes } from 'node:crypto'
import { systemClock, type Clock } from './clock.js'
import type { SessionLimits, SessionStore } from './session-store.js'
import { resolveDpopOptions, type DpopOptions, type ResolvedDpopOptions } from './dpop/dpop-options.js'
import { SIGNING_ALGORITHMS, type SigningAlgorithm, type SigningKeySet } from './signing-keys.js'

/** Options of {@link createTessera}. Everything has a default except what only you can know. */
export interface AuthOptions {
  /** Where sessions live. Default: a new in-process {@link MemoryStore}. */
  store?: SessionStore
  /** Signing keys. Default: one new ES256 key, held in memory. With `sharedKeys`, they seed an empty store. */
  keys?: SigningKeySet
  /**
   * Keep the signing key set in the store, as fleet state: every instance on
   * the store signs and verifies with the same keys, and a rotation through
   * any of them ({@link Tessera.rotateSigningKeys}) reaches all within
   * `pollIntervalMs` (default 2000), or at once for a token naming a key not
   * seen yet. Private keys are sealed under a key derived from `tokenKey`,
   * which is then required. Default off: the keys live in this process.
   */
  sharedKeys?: boolean | { pollIntervalMs?: number; refreshCooldownMs?: number; onError?: (err: unknown) => void }
  /**
   * At least 32 bytes of secret that authenticates refresh and one-time tokens.
   * Every process that shares a store must use the same key: required with a shared
   * store (Redis). Default with a single-process store: random per process.
   */
  tokenKey?: Uint8Array | string
  /** `iss` of issued tokens, required on verification. Default `tessera`. */
  issuer?: string
  /** `aud` of issued tokens, required on verification. Default `tessera`. */
  audience?: string | string[]
  /** Default 900 (15 minutes). */
  accessTokenTtlSeconds?: number
  /** A session ends after this long without a refresh. Default 14 days. */
  refreshIdleTtlSeconds?: number
  /** A session ends this long after sign-in, whatever happens. Default 30 days. */
  refreshAbsoluteTtlSeconds?: number
  /** How long the previous refresh token may be retried after a rotation. Default 10 seconds. */
  refreshGraceSeconds?: number
  /** Most live sessions per user, 1-60. Default 10. */
  maxSessions?: number
  /** At the limit: evict the oldest session (default) or refuse the new one. */
  sessionLimitPolicy?: 'evict-oldest' | 'deny'
  /** Tighter limits per device class, e.g. `{ mobile: 2 }`. */
  deviceClassLimits?: Record<string, number>
  /** Wrong guesses before a one-time token is destroyed. Default 5. */
  oneTimeTokenMaxAttempts?: number
  /** Default lifetime of one-time tokens. Default 3600. */
  oneTimeTokenTtlSeconds?: number
  /** Accepted clock skew when verifying `exp`/`nbf`. Default 0. */
  clockToleranceSeconds?: number
  /** Verification allowlist. Default: the algorithms of the keys in `keys`. */
  algorithms?: SigningAlgorithm[]
  /** Source of time. */
  clock?: Clock
  /** Extra claims for every access token of a session (roles, tenant, ...). Reserved names are refused. */
  extraClaims?: (userId: string, sessionId: string) => Record<string, unknown> | Promise<Record<string, unknown>>
  /** DPoP (RFC 9449): how proofs are checked, whether they are required, server nonces. Accepted by default, not required. */
  dpop?: DpopOptions
}

/** {@link AuthOptions} after validation, with every default filled in. */
export interface ResolvedAuthOptions {
  issuer: string
  audience: string | string[]
  accessTokenTtlSeconds: number
  refreshIdleTtlSeconds: number
  refreshAbsoluteTtlSeconds: number
  refreshGraceSeconds: number
  limits: SessionLimits
  oneTimeTokenMaxAttempts: number
  oneTimeTokenTtlSeconds: number
  clockToleranceSeconds: number
  algorithms: SigningAlgorithm[] | null
  clock: Clock
  extraClaims: AuthOptions['extraClaims'] | null
  /** How long revocations must be remembered: longest access-token life plus tolerance, in ms. */
  revocationTtlMs: number
  dpop: ResolvedDpopOptions
}

/** Defaults in one place. */
export const DEFAULT_AUTH_OPTIONS = {
  issuer: 'tessera',
  audience: 'tessera',
  accessTokenTtlSeconds: 900,
  refreshIdleTtlSeconds: 14 * 24 * 3600,
  refreshAbsoluteTtlSeconds: 30 * 24 * 3600,
  refreshGraceSeconds: 10,
  maxSessions: 10,
  sessionLimitPolicy: 'evict-oldest',
  oneTimeTokenMaxAttempts: 5,
  oneTimeTokenTtlSeconds: 3600,
  clockToleranceSeconds: 0,
} as const

/** Upper bound of sessions per user: two hash fields each keep the user's hash a compact listpack. */
export const MAX_SESSIONS_LIMIT = 60

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`"${name}" option must be an integer from ${min} to ${max}`)
  }
  return value
}

function text(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || value.length === 0 || value.length > 512) throw new TypeError(`"${name}" option must be a non-empty string`)
  return value
}

/**
 * The key that authenticates refresh and one-time tokens. Kept out of
 * {@link ResolvedAuthOptions} (which the engine exposes as `options`): only the engine holds it.
 * Without one, a random key for this process.
 */
export function resolveTokenKey(value: AuthOptions['tokenKey']): Buffer {
  if (value === undefined) return randomBytes(32)
  const key = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value)
  if (key.length < 32) throw new TypeError('"tokenKey" option must be at least 32 bytes')
  return key
}

/** Checks options once, at construction, and fills in defaults. Throws a TypeError naming the bad option. */
export function resolveOptions(input: AuthOptions = {}): ResolvedAuthOptions {
  const d = DEFAULT_AUTH_OPTIONS
  const audience = input.audience ?? d.audience
  if (Array.isArray(audience) ? audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === '') : typeof audience !== 'string' || audience === '') {
    throw new TypeError('"audience" option must be a non-empty string or array of strings')
  }
  const accessTokenTtlSeconds = integer('accessTokenTtlSeconds', input.accessTokenTtlSeconds, d.accessTokenTtlSeconds, 1, 24 * 3600)
  const refreshAbsoluteTtlSeconds = integer('refreshAbsoluteTtlSeconds', input.refreshAbsoluteTtlSeconds, d.refreshAbsoluteTtlSeconds, 60, 10 * 365 * 24 * 3600)
  const refreshIdleTtlSeconds = integer('refreshIdleTtlSeconds', input.refreshIdleTtlSeconds, Math.min(d.refreshIdleTtlSeconds, refreshAbsoluteTtlSeconds), 60, refreshAbsoluteTtlSeconds)
  const policy = input.sessionLimitPolicy ?? d.sessionLimitPolicy
  if (policy !== 'evict-oldest' && policy !== 'deny') throw new TypeError('"sessionLimitPolicy" option must be "evict-oldest" or "deny"')
  const maxSessions = integer('maxSessions', input.maxSessions, d.maxSessions, 1, MAX_SESSIONS_LIMIT)
  const perDeviceClass: Record<string, number> = {}
  for (const [name, limit] of Object.entries(input.deviceClassLimits ?? {})) {
    if (!/^[a-z0-9-]{1,8}$/.test(name)) throw new TypeError('"deviceClassLimits" keys must be 1-8 characters of a-z, 0-9 and -')
    perDeviceClass[name] = integer(`deviceClassLimits.${name}`, limit, 1, 1, maxSessions)
  }
  const algorithms = input.algorithms ?? null
  if (algorithms !== null && (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some((a) => !SIGNING_ALGORITHMS.includes(a)))) {
    throw new TypeError(`"algorithms" option must list some of ${SIGNING_ALGORITHMS.join(', ')}`)
  }
  if (input.extraClaims !== undefined && typeof input.extraClaims !== 'function') throw new TypeError('"extraClaims" option must be a function')
  const clockToleranceSeconds = integer('clockToleranceSeconds', input.clockToleranceSeconds, d.clockToleranceSeconds, 0, 300)
  if (input.tokenKey !== undefined) resolveTokenKey(input.tokenKey)
  return {
    issuer: text('issuer', input.issuer, d.issuer),
    audience,
    accessTokenTtlSeconds,
    refreshIdleTtlSeconds,
    refreshAbsoluteTtlSeconds,
    refreshGraceSeconds: integer('refreshGraceSeconds', input.refreshGraceSeconds, d.refreshGraceSeconds, 0, 300),
    limits: { maxSessions, policy, perDeviceClass },
    oneTimeTokenMaxAttempts: integer('oneTimeTokenMaxAttempts', input.oneTimeTokenMaxAttempts, d.oneTimeTokenMaxAttempts, 1, 100),
    oneTimeTokenTtlSeconds: integer('oneTimeTokenTtlSeconds', input.oneTimeTokenTtlSeconds, d.oneTimeTokenTtlSeconds, 1, 30 * 24 * 3600),
    clockToleranceSeconds,
    algorithms,
    clock: input.clock ?? systemClock,
    extraClaims: input.extraClaims ?? null,
    revocationTtlMs: (accessTokenTtlSeconds + clockToleranceSeconds) * 1000,
    dpop: resolveDpopOptions(input.dpop),
  }
}
