import { signingKeyFor, type SigningKeySet, type VerificationKey } from '@tessera/core'

export type { VerificationKey } from '@tessera/core'
export { toKeyObject } from '@tessera/core'

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
    // The same object per key on every call: the verification cache compares keys by identity.
    return signingKeyFor(this.#set, keyId, nowMs)
  }
}
