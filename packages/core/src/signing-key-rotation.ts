import type { EngineContext } from './engine-context.js'
import type { SharedSigningKeys } from './shared-signing-keys.js'
import type { SigningAlgorithm, SigningKeySet } from './signing-keys.js'

/**
 * Rotation of the engine's signing keys: in this process's own set, or, with
 * `sharedKeys`, in the fleet's set kept in the store. {@link Tessera}
 * delegates `rotateSigningKeys`, `refreshSigningKeys` and
 * `sharesSigningKeys` here; their contracts are documented there.
 */
export class SigningKeyRotation {
  readonly #ctx: EngineContext
  /** The set tokens are signed and verified with: the shared set's own when there is one. */
  readonly #keys: SigningKeySet
  readonly #sharedKeys: SharedSigningKeys | null

  constructor(ctx: EngineContext, keys: SigningKeySet, sharedKeys: SharedSigningKeys | null) {
    this.#ctx = ctx
    this.#keys = keys
    this.#sharedKeys = sharedKeys
  }

  /** See {@link Tessera.sharesSigningKeys}. */
  get isShared(): boolean {
    return this.#sharedKeys !== null
  }

  /** See {@link Tessera.rotateSigningKeys}. */
  async rotate(options: { alg?: SigningAlgorithm }): Promise<{ keyId: string; keyIds: string[] }> {
    const ctx = this.#ctx
    const o = ctx.options
    // The previous key must verify every token it signed until the last one has expired, tolerance included.
    const retireAfterSeconds = o.accessTokenTtlSeconds + o.clockToleranceSeconds
    let keyId: string
    const sharedKeys = this.#sharedKeys
    if (sharedKeys) {
      ;({ keyId } = await ctx.callStore(() => sharedKeys.rotate({ retireAfterSeconds, ...options })))
    } else {
      this.#keys.prune(ctx.nowMs())
      ;({ keyId } = await this.#keys.rotate({ retireAfterSeconds, nowMs: ctx.nowMs(), ...options }))
    }
    return { keyId, keyIds: this.#keys.keyIds() }
  }

  /** See {@link Tessera.refreshSigningKeys}. */
  async refresh(): Promise<void> {
    const sharedKeys = this.#sharedKeys
    if (sharedKeys) await this.#ctx.callStore(() => sharedKeys.refresh())
  }

  /** Stops the shared set's background work, if any. */
  close(): void {
    this.#sharedKeys?.close()
  }
}
