import type { KeyObject } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { AccessTokenClaims } from '@tessera/core'
import type { RevocationSubject } from './revocation-set.js'

/** A token whose signature and claims verified, with what the revocation checks need precomputed. */
export interface VerifiedToken extends RevocationSubject {
  claims: AccessTokenClaims
  /** The key that verified it: when the source stops handing out this exact key, the entry is void. */
  key: KeyObject
  /** `exp` in ms, tolerance included: the entry is void from this instant. */
  validUntilMs: number
  localId: string
}

/**
 * Verified tokens keyed by their exact text, bounded by count (LRU). A hit
 * saves the signature check only: revocation is always decided afterwards from
 * `sid`/`jti`/user, never from the text, so a re-encoded copy of a revoked
 * token gains nothing by being a different key.
 *
 * @example
 * ```ts
 * const cache = new VerificationCache(20_000)
 * const hit = cache.get(token, Date.now())
 * ```
 */
export class VerificationCache {
  readonly #entries: LRUCache<string, VerifiedToken>
  hits = 0
  misses = 0

  constructor(max: number) {
    this.#entries = new LRUCache({ max })
  }

  /** The entry for `token` while it is still within its lifetime. */
  get(token: string, nowMs: number): VerifiedToken | undefined {
    const entry = this.#entries.get(token)
    if (entry === undefined) {
      this.misses++
      return undefined
    }
    if (entry.validUntilMs <= nowMs) {
      this.#entries.delete(token)
      this.misses++
      return undefined
    }
    this.hits++
    return entry
  }

  set(token: string, entry: VerifiedToken): void {
    this.#entries.set(token, entry)
  }

  delete(token: string): void {
    this.#entries.delete(token)
  }

  /** Drops every entry verified by key `keyId` (the key was withdrawn). */
  flushKey(keyId: string): number {
    let dropped = 0
    for (const [token, entry] of this.#entries.entries()) {
      if (entry.claims.keyId === keyId) {
        this.#entries.delete(token)
        dropped++
      }
    }
    return dropped
  }

  clear(): void {
    this.#entries.clear()
  }

  get size(): number {
    return this.#entries.size
  }
}
