import type { Clock } from './clock.js'
import { CoalescedRefresh } from './coalesced-refresh.js'
import { StoreUnavailable } from './errors.js'
import { sealSigningKeys, signingKeySealingKey, unsealSigningKeys } from './sealed-signing-keys.js'
import type { SigningKeyStore } from './signing-key-store.js'
import { SigningKeySet, type SigningAlgorithm, type SigningKeyRecord } from './signing-keys.js'

/** Options of {@link SharedSigningKeys.open}. */
export interface SharedSigningKeysOptions {
  store: SigningKeyStore
  /** The token key every instance shares; private keys are sealed under a key derived from it. */
  tokenKey: Uint8Array
  /** Written to an empty store (and then kept up to date in place); default one new key of `alg`. */
  seed?: SigningKeySet | null
  /** Algorithm of a generated first key. Default ES256. */
  alg?: SigningAlgorithm
  /** How often the stored version is checked. Default 2000. */
  pollIntervalMs?: number
  /** Least time between two checks asked for by {@link SharedSigningKeys.refresh} (unknown `kid`s, JWKS requests). Default 100. */
  refreshCooldownMs?: number
  clock: Clock
  /** Called when a background check fails (the store is down); the keys in hand keep working. */
  onError?: (err: unknown) => void
}

/** Defaults in one place. */
export const DEFAULT_SHARED_SIGNING_KEYS = { pollIntervalMs: 2000, refreshCooldownMs: 100 } as const

const MAX_WRITE_ATTEMPTS = 10

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`"${name}" option must be a non-negative number`)
  return value
}

/**
 * The signing key set as fleet state: kept in the store (sealed), written only
 * by compare-and-set, and followed by every instance. {@link keys} is one
 * {@link SigningKeySet} updated in place, so the engine, its verifiers and its
 * JWKS all see a rotation made by any instance: within one poll interval, or
 * at once when a token names a key this instance does not know yet
 * ({@link refresh}).
 *
 * @example
 * ```ts
 * const shared = await SharedSigningKeys.open({ store, tokenKey, clock: systemClock })
 * await shared.rotate({ retireAfterSeconds: 900 })
 * ```
 */
export class SharedSigningKeys {
  /** The live key set. */
  readonly keys: SigningKeySet
  readonly #store: SigningKeyStore
  readonly #sealingKey: Buffer
  readonly #clock: Clock
  readonly #pollIntervalMs: number
  readonly #onError: (err: unknown) => void
  #version: number
  #applied: Promise<void> = Promise.resolve()
  readonly #checks: CoalescedRefresh
  #timer: NodeJS.Timeout | null = null

  private constructor(options: SharedSigningKeysOptions, keys: SigningKeySet, version: number, sealingKey: Buffer) {
    this.keys = keys
    this.#store = options.store
    this.#sealingKey = sealingKey
    this.#clock = options.clock
    this.#pollIntervalMs = nonNegative('pollIntervalMs', options.pollIntervalMs, DEFAULT_SHARED_SIGNING_KEYS.pollIntervalMs)
    const cooldownMs = nonNegative('refreshCooldownMs', options.refreshCooldownMs, DEFAULT_SHARED_SIGNING_KEYS.refreshCooldownMs)
    this.#checks = new CoalescedRefresh(() => this.#check(), { cooldownMs, nowMs: () => this.#clock.nowMs() })
    this.#onError = options.onError ?? (() => undefined)
    this.#version = version
  }

  /**
   * Reads the stored set, or seeds an empty store (race-safe: instances
   * starting together all end on the one set that was written first), and
   * starts following it.
   *
   * @throws {StoreUnavailable} {@link SigningKeysUnreadable} (sealed under another token key)
   */
  static async open(options: SharedSigningKeysOptions): Promise<SharedSigningKeys> {
    nonNegative('pollIntervalMs', options.pollIntervalMs, 0)
    const sealingKey = signingKeySealingKey(options.tokenKey)
    let stored = await options.store.readSigningKeys()
    if (!stored) {
      const seed = options.seed ?? (await SigningKeySet.generate({ alg: options.alg ?? 'ES256', nowMs: options.clock.nowMs() }))
      const document = sealSigningKeys(seed.toJSON().keys, sealingKey)
      const result = await options.store.writeSigningKeys({ expectedVersion: 0, document })
      stored = result.written ? { version: result.version, document } : result.current
      if (!stored) throw new StoreUnavailable('the store refused the first signing key set without holding one')
    }
    const records = unsealSigningKeys(stored.document, sealingKey)
    let keys = options.seed ?? null
    if (keys) await keys.replaceRecords(records)
    else keys = await SigningKeySet.fromRecords(records)
    const shared = new SharedSigningKeys(options, keys, stored.version, sealingKey)
    if (shared.#pollIntervalMs > 0) {
      shared.#timer = setInterval(() => {
        // Failures only delay pick-up: the keys in hand keep working, the next poll retries.
        shared.refresh().catch(shared.#onError)
      }, shared.#pollIntervalMs)
      shared.#timer.unref()
    }
    return shared
  }

  /** Version of the set in hand. */
  get version(): number {
    return this.#version
  }

  /**
   * Resolves once a check of the store that started after this call has
   * finished, so a key written before the call is known after it. Checks are
   * shared by concurrent callers and spaced by the cooldown (see
   * {@link CoalescedRefresh}).
   *
   * @throws {StoreUnavailable}
   */
  refresh(): Promise<void> {
    return this.#checks.request()
  }

  async #check(): Promise<void> {
    const version = await this.#store.signingKeysVersion()
    if (version === this.#version) return
    const stored = await this.#store.readSigningKeys()
    if (stored) {
      await this.#apply(stored.version, unsealSigningKeys(stored.document, this.#sealingKey), stored.version < this.#version)
      return
    }
    // The stored set is gone (a flushed or replaced Redis): put back what the fleet was using.
    const records = this.keys.toJSON().keys
    const result = await this.#store.writeSigningKeys({ expectedVersion: 0, document: sealSigningKeys(records, this.#sealingKey) })
    if (result.written) await this.#apply(result.version, records, true)
    else if (result.current) await this.#apply(result.current.version, unsealSigningKeys(result.current.document, this.#sealingKey), true)
  }

  /** Applies versions one at a time, never going back to an older one unless the store was reset. */
  #apply(version: number, records: readonly SigningKeyRecord[], reset = false): Promise<void> {
    const step = this.#applied.then(async () => {
      if (!reset && version <= this.#version) return
      await this.keys.replaceRecords(records)
      this.#version = version
    })
    this.#applied = step.catch(() => undefined)
    return step
  }

  /**
   * Adds a new current key to the stored set (compare-and-set, retried on top
   * of a concurrent writer) and drops keys whose tokens have all expired. The
   * previous key keeps verifying for `retireAfterSeconds` plus two poll
   * intervals: an instance may sign with it until its next poll.
   *
   * @throws {StoreUnavailable}
   */
  async rotate(options: { retireAfterSeconds: number; alg?: SigningAlgorithm }): Promise<{ keyId: string }> {
    const retireAfterSeconds = options.retireAfterSeconds + Math.ceil((2 * this.#pollIntervalMs) / 1000)
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const nowMs = this.#clock.nowMs()
      const stored = await this.#store.readSigningKeys()
      const set = await SigningKeySet.fromRecords(stored ? unsealSigningKeys(stored.document, this.#sealingKey) : this.keys.toJSON().keys)
      set.prune(nowMs)
      const { keyId } = await set.rotate({ retireAfterSeconds, nowMs, ...(options.alg ? { alg: options.alg } : {}) })
      const records = set.toJSON().keys
      const result = await this.#store.writeSigningKeys({ expectedVersion: stored?.version ?? 0, document: sealSigningKeys(records, this.#sealingKey) })
      if (result.written) {
        await this.#apply(result.version, records, !stored)
        return { keyId }
      }
    }
    throw new StoreUnavailable(`could not write the signing key set after ${MAX_WRITE_ATTEMPTS} attempts (too many concurrent rotations)`)
  }

  /** Stops following the store; idempotent. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }
}
