import {
  type Clock,
  type DpopOptions,
  DpopProofChecker,
  resolveDpopOptions,
  type SessionStore,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  SigningKeySet,
  systemClock,
} from '@tessera/core'
import type { RedisSessionStoreOptions } from '@tessera/redis'
import type { KeySource } from './key-source.js'
import type { RemoteJwksOptions } from './remote-jwks.js'

/**
 * How much a verifier checks (docs/verifiers.md, "Modes"):
 * `signature` signature and claims only; `strict` plus one store round trip
 * per request; `cached` plus an in-process revocation set that follows the
 * revocation log, falling back to `strict` when that set cannot be trusted.
 */
export type VerifierMode = 'signature' | 'strict' | 'cached'

/** Options of {@link createVerifier}. */
export interface VerifierOptions {
  mode: VerifierMode
  /** A local key set, the auth server's JWKS (`{ jwksUrl }`), or any {@link KeySource}. */
  keys: SigningKeySet | KeySource | ({ jwksUrl: string | URL } & Omit<RemoteJwksOptions, 'url' | 'algorithms'>)
  /** Required `iss`. */
  issuer: string
  /** Accepted `aud` values: a token naming any one of them passes. */
  audience: string | string[]
  /** Explicit allowlist; `none` is never accepted whatever is listed. */
  algorithms: SigningAlgorithm[]
  /** Revocation state for `strict` and `cached`: a store, or Redis settings for a store the verifier opens and closes. */
  store?: SessionStore
  redis?: RedisSessionStoreOptions
  /** Accepted clock skew on `exp`/`nbf`. Default 0. */
  clockToleranceSeconds?: number
  /**
   * At least how long a revocation is remembered after it arrives, and how
   * long the set is not trusted after a gap. Default: what the issuer's
   * heartbeat advertises (access-token lifetime + refresh grace + clock
   * tolerance), 15 minutes until one is seen. Each logged revocation is kept
   * until the latest expiry of the tokens it covers in any case. A value
   * shorter than the issuer advertises is refused at start.
   */
  revocationTtlMs?: number
  /**
   * The auth server's RFC 8414 metadata (`https://auth.example/.well-known/oauth-authorization-server`),
   * read once at start: its `issuer` must be `issuer`, and its Tessera limits
   * (access-token lifetime, refresh grace, clock tolerance) set how long
   * revocations are remembered from the first request on; a `revocationTtlMs`
   * shorter than they need is refused at start. Default: none (cached mode
   * learns the same limits from the issuer's heartbeats in the log).
   */
  issuerMetadataUrl?: string | URL
  /** Verified-token cache (any mode); `false` turns it off. Default `{ max: 20000 }`. */
  cache?: { max?: number } | false
  /** Following the revocation log (`cached` mode). */
  log?: {
    /** Blocking read time. Default 1000. */
    blockMs?: number
    /** Longest time without a successful read before the set is not trusted. Default 2500; must exceed `blockMs`. */
    maxStalenessMs?: number
    /** Entries per read. Default 1000. */
    batchSize?: number
    /** Pause between reads while the store fails. Default 100. */
    retryMs?: number
    /**
     * Longest silence of the issuer's heartbeats (engines write one every 5 s)
     * before the verifier refuses to serve (503): the log is not written by a
     * live issuer of `issuer` (a mistyped key prefix, an issuer that is down). Default 20000.
     */
    issuerSilenceMs?: number
    /** Longest time between two gap checks while reading continuously (one XINFO on Redis). Default 1000. */
    gapCheckIntervalMs?: number
  }
  /** Told why cached mode stops serving or distrusts its set (no live issuer, settings that disagree with the issuer's). Default: none. */
  onWarning?: (message: string) => void
  /** When the cached set cannot be trusted: check each request in the store (`strict`, default) or answer unavailable (`fail`). */
  onStale?: 'strict' | 'fail'
  /**
   * DPoP (RFC 9449): how proofs are checked, whether bearer tokens are refused,
   * server nonces. On by default (DPoP-bound tokens need a proof, bearer tokens
   * still pass); `false` refuses DPoP-bound tokens outright. The proof replay
   * cache is the store; a `signature` verifier without one keeps it in process
   * memory, which catches replays to this process only. A `DpopProofChecker`
   * (e.g. the engine's `tessera.dpop`) is used as it is.
   */
  dpop?: DpopOptions | DpopProofChecker | false
  clock?: Clock
}

/** {@link VerifierOptions} after validation, with every default filled in. */
export interface ResolvedVerifierOptions {
  mode: VerifierMode
  keys: VerifierOptions['keys']
  issuer: string
  audiences: string[]
  algorithms: SigningAlgorithm[]
  store: SessionStore | null
  redis: RedisSessionStoreOptions | null
  clockToleranceSeconds: number
  revocationTtlMs: number
  /** True when `revocationTtlMs` was given (checked against the issuer's limits at start). */
  revocationTtlGiven: boolean
  issuerMetadataUrl: string | null
  cacheMax: number
  log: { blockMs: number; maxStalenessMs: number; batchSize: number; retryMs: number; issuerSilenceMs: number; gapCheckIntervalMs: number }
  onWarning: (message: string) => void
  onStale: 'strict' | 'fail'
  /** Options to build a checker from, a checker to use, or null: DPoP refused. */
  dpop: ReturnType<typeof resolveDpopOptions> | DpopProofChecker | null
  clock: Clock
}

/** Defaults in one place. */
export const DEFAULT_VERIFIER_OPTIONS = {
  clockToleranceSeconds: 0,
  revocationTtlMs: 15 * 60_000,
  cacheMax: 20_000,
  log: { blockMs: 1000, maxStalenessMs: 2500, batchSize: 1000, retryMs: 100, issuerSilenceMs: 20_000, gapCheckIntervalMs: 1000 },
  onStale: 'strict',
} as const

function nonNegative(name: string, value: unknown, fallback: number, integer = false): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new TypeError(`"${name}" option must be a non-negative ${integer ? 'integer' : 'number'}`)
  }
  return value
}

function issuerMetadataUrl(value: unknown): string | null {
  if (value === undefined) return null
  if (!(value instanceof URL) && (typeof value !== 'string' || !URL.canParse(value))) throw new TypeError('"issuerMetadataUrl" option must be a URL')
  return String(value)
}

/** Checks options once, at construction, and fills in defaults. Bad options throw a `TypeError` naming the option. */
export function resolveVerifierOptions(input: VerifierOptions): ResolvedVerifierOptions {
  if (!input || typeof input !== 'object') throw new TypeError('verifier options are required')
  const { mode } = input
  if (mode !== 'signature' && mode !== 'strict' && mode !== 'cached') throw new TypeError('"mode" option must be "signature", "strict" or "cached"')
  if (!input.keys || typeof input.keys !== 'object') throw new TypeError('"keys" option is required')
  if (typeof input.issuer !== 'string' || input.issuer.length === 0) throw new TypeError('"issuer" option must be a non-empty string')
  const audiences = typeof input.audience === 'string' ? [input.audience] : input.audience
  if (!Array.isArray(audiences) || audiences.length === 0 || !audiences.every((a) => typeof a === 'string' && a.length > 0)) {
    throw new TypeError('"audience" option must be a non-empty string or array of strings')
  }
  const algorithms = input.algorithms
  if (!Array.isArray(algorithms) || algorithms.length === 0 || !algorithms.every((a) => SIGNING_ALGORITHMS.includes(a))) {
    throw new TypeError(`"algorithms" option must list some of ${SIGNING_ALGORITHMS.join(', ')}`)
  }
  if (mode !== 'signature' && !input.store && !input.redis) throw new TypeError(`"store" or "redis" option is required in ${mode} mode`)
  if (input.store && input.redis) throw new TypeError('give either "store" or "redis", not both')
  const log = {
    blockMs: nonNegative('log.blockMs', input.log?.blockMs, DEFAULT_VERIFIER_OPTIONS.log.blockMs),
    maxStalenessMs: nonNegative('log.maxStalenessMs', input.log?.maxStalenessMs, DEFAULT_VERIFIER_OPTIONS.log.maxStalenessMs),
    batchSize: nonNegative('log.batchSize', input.log?.batchSize, DEFAULT_VERIFIER_OPTIONS.log.batchSize, true),
    retryMs: nonNegative('log.retryMs', input.log?.retryMs, DEFAULT_VERIFIER_OPTIONS.log.retryMs),
    issuerSilenceMs: nonNegative('log.issuerSilenceMs', input.log?.issuerSilenceMs, DEFAULT_VERIFIER_OPTIONS.log.issuerSilenceMs),
    gapCheckIntervalMs: nonNegative('log.gapCheckIntervalMs', input.log?.gapCheckIntervalMs, DEFAULT_VERIFIER_OPTIONS.log.gapCheckIntervalMs),
  }
  if (input.onWarning !== undefined && typeof input.onWarning !== 'function') throw new TypeError('"onWarning" option must be a function')
  if (log.blockMs < 1) throw new TypeError('"log.blockMs" option must be at least 1')
  if (log.batchSize < 1) throw new TypeError('"log.batchSize" option must be at least 1')
  // A healthy idle follower makes contact once per block; a bound below that would distrust a healthy set.
  if (log.maxStalenessMs <= log.blockMs) throw new TypeError('"log.maxStalenessMs" option must be greater than "log.blockMs"')
  const onStale = input.onStale ?? DEFAULT_VERIFIER_OPTIONS.onStale
  if (onStale !== 'strict' && onStale !== 'fail') throw new TypeError('"onStale" option must be "strict" or "fail"')
  const cacheMax = input.cache === false ? 0 : nonNegative('cache.max', input.cache?.max, DEFAULT_VERIFIER_OPTIONS.cacheMax, true)
  return {
    mode,
    keys: input.keys,
    issuer: input.issuer,
    audiences: [...audiences],
    algorithms: [...new Set(algorithms)],
    store: input.store ?? null,
    redis: input.redis ?? null,
    clockToleranceSeconds: nonNegative('clockToleranceSeconds', input.clockToleranceSeconds, DEFAULT_VERIFIER_OPTIONS.clockToleranceSeconds),
    revocationTtlMs: nonNegative('revocationTtlMs', input.revocationTtlMs, DEFAULT_VERIFIER_OPTIONS.revocationTtlMs),
    revocationTtlGiven: input.revocationTtlMs !== undefined,
    issuerMetadataUrl: issuerMetadataUrl(input.issuerMetadataUrl),
    cacheMax,
    log,
    onWarning: input.onWarning ?? (() => undefined),
    onStale,
    dpop: input.dpop === false ? null : input.dpop instanceof DpopProofChecker ? input.dpop : resolveDpopOptions(input.dpop),
    clock: input.clock ?? systemClock,
  }
}

/** True for a {@link SigningKeySet} (checked by class, so a look-alike object is treated as a {@link KeySource}). */
export function isSigningKeySet(keys: VerifierOptions['keys']): keys is SigningKeySet {
  return keys instanceof SigningKeySet
}
