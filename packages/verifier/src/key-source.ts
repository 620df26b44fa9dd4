import { KeyObject, createSecretKey } from 'node:crypto'
import type { CryptoKey } from 'jose'
import type { SigningAlgorithm, SigningKeySet } from '@tessera/core'

/** A key that may verify access tokens signed under `keyId`. */
export interface VerificationKey {
  keyId: string
  alg: SigningAlgorithm
  /** node:crypto form, so verification needs no WebCrypto round trip. */
  key: KeyObject
}

/**
 * Where a verifier finds keys. `get` is synchronous so a cached token costs a
 * map lookup; `refresh` is asked (rarely, rate-limited by the source) when a
 * token names a key the source does not know yet.
 */
export interface KeySource {
  get(keyId: string, nowMs: number): VerificationKey | undefined
  /** Fetches keys again because `keyId` was unknown; resolves true when it may now be known. */
  refresh?(keyId: string): Promise<boolean>
  /** Releases timers; idempotent. */
  close?(): void
}

/**
 * Keys from a local {@link SigningKeySet} (the same records the auth server
 * signs with, or only their public halves). Follows the set as it rotates and
 * prunes: a retired key stops verifying at its `retiresAtMs`.
 *
 * @example
 * ```ts
 * const source = new LocalKeySource(await SigningKeySet.fromJSON(process.env.TESSERA_SIGNING_KEYS!))
 * ```
 */
export class LocalKeySource implements KeySource {
  readonly #set: SigningKeySet
  // One KeyObject per key the set hands out, so the cache can compare keys by identity.
  readonly #converted = new WeakMap<object, VerificationKey>()
  /** Present only when the set can learn keys (a shared set that follows the store). */
  readonly refresh?: (keyId: string) => Promise<boolean>

  /** `refresh` brings the set up to date (e.g. `auth.refreshSigningKeys`); without it an unknown `kid` is refused at once. */
  constructor(set: SigningKeySet, options: { refresh?: () => Promise<void> } = {}) {
    this.#set = set
    const refresh = options.refresh
    if (refresh) {
      this.refresh = async (keyId) => {
        await refresh()
        return set.verificationKey(keyId) !== undefined
      }
    }
  }

  get(keyId: string, nowMs: number): VerificationKey | undefined {
    const found = this.#set.verificationKey(keyId, nowMs)
    if (!found) return undefined
    let converted = this.#converted.get(found.key)
    if (!converted) {
      converted = { keyId, alg: found.alg, key: toKeyObject(found.key) }
      this.#converted.set(found.key, converted)
    }
    return converted
  }
}

/** Turns what jose hands out (a WebCrypto key or the raw HMAC secret) into a node:crypto key. */
export function toKeyObject(key: CryptoKey | Uint8Array | KeyObject): KeyObject {
  if (key instanceof KeyObject) return key
  if (key instanceof Uint8Array) return createSecretKey(key)
  return KeyObject.from(key)
}
