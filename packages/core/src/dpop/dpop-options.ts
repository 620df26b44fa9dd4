import { DpopNonces } from './dpop-nonces.js'

/** Asymmetric JWS algorithms a DPoP proof may use (RFC 9449 section 4.3: never `none` nor a MAC). */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'] as const
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number]

/** How DPoP proofs are checked. The same shape for the engine and for verifiers. */
export interface DpopOptions {
  /** Algorithms accepted in proofs. Default: all of {@link DPOP_ALGORITHMS}. */
  algorithms?: DpopAlgorithm[]
  /** Oldest `iat` accepted, in seconds before now. Default 60. */
  maxAgeSeconds?: number
  /** Newest `iat` accepted, in seconds after now (client clocks run ahead). Default 5. */
  futureSkewSeconds?: number
  /** Refuse clients without DPoP (bearer tokens and sign-ins without a proof). Default false. */
  required?: boolean
  /**
   * Server nonces (RFC 9449 section 8): proofs must carry a recent `DPoP-Nonce`.
   * `key` (at least 32 bytes) must be the same on every instance that hands out
   * or checks the nonces. Default: off.
   */
  nonce?: { key: Uint8Array | string; windowSeconds?: number }
}

/** {@link DpopOptions} after validation, with every default filled in. */
export interface ResolvedDpopOptions {
  algorithms: readonly DpopAlgorithm[]
  maxAgeMs: number
  futureSkewMs: number
  required: boolean
  nonces: DpopNonces | null
  /**
   * How long a proof's `jti` is remembered. A proof is acceptable for
   * `maxAge + futureSkew` by the clock of the instance that checks it; twice
   * that covers instances whose clocks differ by up to the same amount.
   */
  replayTtlMs: number
}

/** Defaults in one place. */
export const DEFAULT_DPOP_OPTIONS = { maxAgeSeconds: 60, futureSkewSeconds: 5, required: false, nonceWindowSeconds: 300 } as const

function seconds(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`"${name}" option must be an integer from ${min} to ${max}`)
  }
  return value
}

/** Checks DPoP options once; throws a TypeError naming the bad option. `prefix` is how the caller names them (`dpop`). */
export function resolveDpopOptions(input: DpopOptions | undefined, prefix = 'dpop'): ResolvedDpopOptions {
  const o = input ?? {}
  if (typeof o !== 'object') throw new TypeError(`"${prefix}" option must be an object`)
  const algorithms = o.algorithms ?? [...DPOP_ALGORITHMS]
  if (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some((a) => !DPOP_ALGORITHMS.includes(a))) {
    throw new TypeError(`"${prefix}.algorithms" option must list some of ${DPOP_ALGORITHMS.join(', ')}`)
  }
  const maxAgeSeconds = seconds(`${prefix}.maxAgeSeconds`, o.maxAgeSeconds, DEFAULT_DPOP_OPTIONS.maxAgeSeconds, 1, 3600)
  const futureSkewSeconds = seconds(`${prefix}.futureSkewSeconds`, o.futureSkewSeconds, DEFAULT_DPOP_OPTIONS.futureSkewSeconds, 0, 300)
  if (o.required !== undefined && typeof o.required !== 'boolean') throw new TypeError(`"${prefix}.required" option must be a boolean`)
  let nonces: DpopNonces | null = null
  if (o.nonce !== undefined) {
    const key = typeof o.nonce?.key === 'string' ? Buffer.from(o.nonce.key, 'utf8') : o.nonce?.key instanceof Uint8Array ? Buffer.from(o.nonce.key) : null
    if (!key || key.length < 32) throw new TypeError(`"${prefix}.nonce.key" option must be at least 32 bytes`)
    const windowSeconds = seconds(`${prefix}.nonce.windowSeconds`, o.nonce.windowSeconds, DEFAULT_DPOP_OPTIONS.nonceWindowSeconds, 10, 86_400)
    nonces = new DpopNonces(key, windowSeconds * 1000)
  }
  return {
    algorithms: [...new Set(algorithms)],
    maxAgeMs: maxAgeSeconds * 1000,
    futureSkewMs: futureSkewSeconds * 1000,
    required: o.required ?? DEFAULT_DPOP_OPTIONS.required,
    nonces,
    replayTtlMs: 2 * (maxAgeSeconds + futureSkewSeconds) * 1000,
  }
}
