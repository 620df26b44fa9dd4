import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { KeysUnavailable, type SigningAlgorithm } from '@tessera/core'
import { CoalescedRefresh } from '@tessera/core/internal'
import type { KeySource, VerificationKey } from './key-source.js'

/** Options of {@link RemoteJwksKeySource.load}. */
export interface RemoteJwksOptions {
  /** The auth server's JWKS URL (`https://auth.example/.well-known/jwks.json`). */
  url: string | URL
  /** Keys of other algorithms are ignored. HS256 never comes from a JWKS. */
  algorithms: readonly SigningAlgorithm[]
  /** Abort a fetch after this long. Default 5000. */
  timeoutMs?: number
  /** Refetch in the background once the keys are this old. Default 600000 (10 minutes). */
  maxAgeMs?: number
  /**
   * Least time between two fetches caused by unknown `kid`s, so junk tokens
   * cannot make us hammer the server. A token naming a new key waits for the
   * next fetch (at most this long), it is not refused. Default 1000.
   */
  cooldownMs?: number
  /** Largest JWKS body accepted, in bytes. Default 262144 (256 KiB). */
  maxBodyBytes?: number
  /**
   * Hard limit: keys last fetched longer ago than this are no longer trusted
   * (tokens get `ERR_KEYS_UNAVAILABLE`, 503) until a fetch succeeds. Default 86400000 (24 hours).
   */
  maxStaleMs?: number
  /** Injected for tests; default the global `fetch`. */
  fetch?: typeof fetch
  /** Source of time; default `Date.now`. */
  nowMs?: () => number
}

export const DEFAULT_REMOTE_JWKS = { timeoutMs: 5000, maxAgeMs: 600_000, cooldownMs: 1000, maxBodyBytes: 256 * 1024, maxStaleMs: 24 * 3_600_000 } as const

const MIN_RSA_BITS = 2048

interface Jwk {
  kty?: unknown
  crv?: unknown
  kid?: unknown
  alg?: unknown
  use?: unknown
  n?: unknown
}

function algorithmOf(jwk: Jwk): SigningAlgorithm | undefined {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256'
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA'
  if (jwk.kty === 'RSA') return 'RS256'
  return undefined
}

/** Imports the usable keys of a JWKS document; anything odd is skipped, never trusted. */
export function importJwks(document: unknown, algorithms: readonly SigningAlgorithm[]): Map<string, VerificationKey> {
  const keys = new Map<string, VerificationKey>()
  const list = (document as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) throw new TypeError('JWKS document has no "keys" array')
  for (const jwk of list as Jwk[]) {
    if (!jwk || typeof jwk !== 'object' || typeof jwk.kid !== 'string' || jwk.kid.length === 0) continue
    if (jwk.use !== undefined && jwk.use !== 'sig') continue
    const alg = algorithmOf(jwk)
    // A published alg must agree with the key type: an RSA key labelled ES256 is a misconfiguration, not a hint.
    if (!alg || (jwk.alg !== undefined && jwk.alg !== alg) || !algorithms.includes(alg)) continue
    let key: KeyObject
    try {
      key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
    } catch {
      continue
    }
    if (alg === 'RS256' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) continue
    keys.set(jwk.kid, { keyId: jwk.kid, alg, key })
  }
  return keys
}

/** True for a loopback host name (plain http is allowed only there). */
export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
}

/** The body as text, refused past `maxBytes` without reading the rest. */
export async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? NaN)
  if (declared > maxBytes) throw new Error(`its body of ${declared} bytes is over the ${maxBytes}-byte limit`)
  const chunks: Uint8Array[] = []
  let total = 0
  if (response.body) {
    for await (const chunk of response.body) {
      total += chunk.byteLength
      if (total > maxBytes) throw new Error(`its body is over the ${maxBytes}-byte limit`)
      chunks.push(chunk)
    }
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * Keys fetched from the auth server's JWKS URL: cached, refetched in the
 * background when old, refetched on an unknown `kid` (at most once per
 * cooldown, the token waiting for that fetch), every fetch bounded by a timeout. A key that disappears from the
 * document stops verifying (and cached tokens signed by it are dropped).
 *
 * @example
 * ```ts
 * const keys = await RemoteJwksKeySource.load({ url: 'https://auth.example/.well-known/jwks.json', algorithms: ['ES256'] })
 * ```
 */
export class RemoteJwksKeySource implements KeySource {
  readonly #options: Required<Omit<RemoteJwksOptions, 'url'>> & { url: string }
  #keys = new Map<string, VerificationKey>()
  #fetchedAtMs = 0
  readonly #fetches: CoalescedRefresh
  /** How many fetches were made; for metrics and tests. */
  fetchCount = 0

  private constructor(options: RemoteJwksOptions) {
    this.#options = {
      url: String(options.url),
      algorithms: options.algorithms.filter((a) => a !== 'HS256'),
      timeoutMs: options.timeoutMs ?? DEFAULT_REMOTE_JWKS.timeoutMs,
      maxAgeMs: options.maxAgeMs ?? DEFAULT_REMOTE_JWKS.maxAgeMs,
      cooldownMs: options.cooldownMs ?? DEFAULT_REMOTE_JWKS.cooldownMs,
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_REMOTE_JWKS.maxBodyBytes,
      maxStaleMs: options.maxStaleMs ?? DEFAULT_REMOTE_JWKS.maxStaleMs,
      fetch: options.fetch ?? fetch,
      nowMs: options.nowMs ?? Date.now,
    }
    for (const name of ['timeoutMs', 'maxAgeMs', 'cooldownMs', 'maxBodyBytes', 'maxStaleMs'] as const) {
      const value = this.#options[name]
      if (!Number.isFinite(value) || value < 0) throw new TypeError(`"${name}" option must be a non-negative number`)
    }
    const url = new URL(this.#options.url)
    // Keys decide who is authenticated: only TLS may bring them, except from this machine.
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
      throw new TypeError('"url" option must be an https URL (plain http only for loopback hosts)')
    }
    this.#fetches = new CoalescedRefresh(() => this.#fetch(), { cooldownMs: this.#options.cooldownMs, nowMs: this.#options.nowMs })
  }

  /** Fetches the JWKS once; fails when the first fetch fails, so a verifier never starts without keys. */
  static async load(options: RemoteJwksOptions): Promise<RemoteJwksKeySource> {
    const source = new RemoteJwksKeySource(options)
    await source.#fetches.request()
    return source
  }

  get(keyId: string, nowMs: number): VerificationKey | undefined {
    if (nowMs - this.#fetchedAtMs > this.#options.maxAgeMs && !this.#fetches.busy) {
      // Stale keys keep working until fresh ones arrive; a failed background refresh is retried on the next call.
      this.#fetches.request().catch(() => undefined)
    }
    // Past the hard limit the keys may have been withdrawn long ago: fail closed (503) until a fetch succeeds.
    if (nowMs - this.#fetchedAtMs > this.#options.maxStaleMs) {
      throw new KeysUnavailable(`JWKS keys are older than the ${this.#options.maxStaleMs} ms limit and could not be refreshed`)
    }
    return this.#keys.get(keyId)
  }

  /**
   * Waits for a fetch that started after this call (shared with concurrent
   * callers, spaced by `cooldownMs`): a key published a moment ago by a
   * rotation is found, whatever junk came just before.
   */
  async refresh(keyId: string): Promise<boolean> {
    await this.#fetches.request().catch(() => undefined)
    return this.#keys.has(keyId)
  }

  /** Key ids currently known. */
  keyIds(): string[] {
    return [...this.#keys.keys()]
  }

  async #fetch(): Promise<void> {
    this.fetchCount++
    // Without credentials or query: the URL goes into error messages and logs.
    const where = (() => {
      const url = new URL(this.#options.url)
      return `${url.origin}${url.pathname}`
    })()
    let document: unknown
    try {
      const response = await this.#options.fetch(this.#options.url, {
        signal: AbortSignal.timeout(this.#options.timeoutMs),
        headers: { accept: 'application/jwk-set+json, application/json' },
        redirect: 'error',
      })
      if (!response.ok) throw new Error(`it answered ${response.status}`)
      document = JSON.parse(await readCapped(response, this.#options.maxBodyBytes))
    } catch (err) {
      // A network failure is an AuthError callers can switch on, not a bare "TypeError: fetch failed".
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
      const reason = timedOut ? `no answer within the ${this.#options.timeoutMs} ms timeout` : (err instanceof Error ? err.message : String(err)).split(this.#options.url).join(where)
      throw new KeysUnavailable(`JWKS at ${where} could not be fetched: ${reason}`, { cause: err })
    }
    try {
      this.#keys = importJwks(document, this.#options.algorithms)
    } catch (err) {
      throw new KeysUnavailable(`JWKS at ${where} is not a key set: ${(err as Error).message}`, { cause: err })
    }
    this.#fetchedAtMs = this.#options.nowMs()
  }
}
