import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, generateSecret, importJWK, type CryptoKey, type JWK } from 'jose'

/** Signing algorithms Tessera issues and verifies. ES256 is the default. */
export type SigningAlgorithm = 'ES256' | 'EdDSA' | 'RS256' | 'HS256'
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['ES256', 'EdDSA', 'RS256', 'HS256']

/** One key as stored: the private JWK plus when it was made and when it stops being published. */
export interface SigningKeyRecord {
  keyId: string
  alg: SigningAlgorithm
  createdAtMs: number
  /** After this instant no token signed by the key can still be alive; null while it is current. */
  retiresAtMs: number | null
  privateJwk: JWK
}

interface LoadedKey {
  record: SigningKeyRecord
  privateKey: CryptoKey | Uint8Array
  publicKey: CryptoKey | Uint8Array
  publicJwk: JWK | null
}

const FILE_NAME = 'signing-keys.json'

function assertAlgorithm(alg: unknown): asserts alg is SigningAlgorithm {
  if (!SIGNING_ALGORITHMS.includes(alg as SigningAlgorithm)) {
    throw new TypeError(`"alg" must be one of ${SIGNING_ALGORITHMS.join(', ')}`)
  }
}

async function makeRecord(alg: SigningAlgorithm, nowMs: number): Promise<SigningKeyRecord> {
  if (alg === 'HS256') {
    const secret = await generateSecret('HS256', { extractable: true })
    const privateJwk = await exportJWK(secret)
    return { keyId: randomBytes(12).toString('base64url'), alg, createdAtMs: nowMs, retiresAtMs: null, privateJwk }
  }
  const { privateKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { extractable: true, crv: 'Ed25519' } : { extractable: true })
  const privateJwk = await exportJWK(privateKey)
  return { keyId: await calculateJwkThumbprint(privateJwk), alg, createdAtMs: nowMs, retiresAtMs: null, privateJwk }
}

function publicPart(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest } = jwk
  return rest
}

async function loadKey(record: SigningKeyRecord): Promise<LoadedKey> {
  assertAlgorithm(record.alg)
  if (typeof record.keyId !== 'string' || record.keyId.length === 0) throw new TypeError('signing key record needs a "keyId"')
  const privateKey = await importJWK(record.privateJwk, record.alg)
  if (record.alg === 'HS256') return { record, privateKey, publicKey: privateKey, publicJwk: null }
  const publicJwk = { ...publicPart(record.privateJwk), kid: record.keyId, alg: record.alg, use: 'sig' }
  return { record, privateKey, publicKey: await importJWK(publicJwk, record.alg), publicJwk }
}

/**
 * The keys that sign access tokens. The newest unretired key signs; older keys
 * stay verifiable (and published in the JWKS) until the last token they signed
 * has expired. Processes that load the same records agree on every key id and
 * on which key is current.
 *
 * @example
 * ```ts
 * const keys = await SigningKeySet.loadOrCreate('./.tessera', { alg: 'ES256' })
 * const jwks = keys.publicJwks()
 * ```
 */
export class SigningKeySet {
  #keys: LoadedKey[]
  #byId: Map<string, LoadedKey>

  private constructor(keys: LoadedKey[]) {
    this.#keys = keys
    this.#byId = new Map(keys.map((k) => [k.record.keyId, k]))
  }

  /** A set holding one new key. */
  static async generate(options: { alg?: SigningAlgorithm; nowMs?: number } = {}): Promise<SigningKeySet> {
    const alg = options.alg ?? 'ES256'
    assertAlgorithm(alg)
    return SigningKeySet.fromRecords([await makeRecord(alg, options.nowMs ?? Date.now())])
  }

  /** A set from stored records (as written by {@link toJSON}). */
  static async fromRecords(records: readonly SigningKeyRecord[]): Promise<SigningKeySet> {
    if (!Array.isArray(records) || records.length === 0) throw new TypeError('a signing key set needs at least one key')
    return new SigningKeySet(await Promise.all(records.map(loadKey)))
  }

  /** A set from the JSON text of {@link toJSON} (for example the `TESSERA_SIGNING_KEYS` variable). */
  static async fromJSON(text: string): Promise<SigningKeySet> {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new TypeError('signing keys must be JSON of the form {"keys":[...]}')
    }
    const keys = (parsed as { keys?: unknown }).keys
    if (!Array.isArray(keys)) throw new TypeError('signing keys must be JSON of the form {"keys":[...]}')
    return SigningKeySet.fromRecords(keys as SigningKeyRecord[])
  }

  /** Loads `signing-keys.json` from `dir`; null when there is none. */
  static async load(dir: string): Promise<SigningKeySet | null> {
    try {
      return await SigningKeySet.fromJSON(await readFile(join(dir, FILE_NAME), 'utf8'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      return null
    }
  }

  /** Loads `signing-keys.json` from `dir`, creating the directory and a first key when missing. */
  static async loadOrCreate(dir: string, options: { alg?: SigningAlgorithm } = {}): Promise<SigningKeySet> {
    const loaded = await SigningKeySet.load(dir)
    if (loaded) return loaded
    const set = await SigningKeySet.generate(options)
    await set.save(dir)
    return set
  }

  /** Writes the set to `dir/signing-keys.json` atomically, readable by the owner only. */
  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const tmp = join(dir, `${FILE_NAME}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
    await writeFile(tmp, JSON.stringify(this.toJSON(), null, 2), { mode: 0o600 })
    await rename(tmp, join(dir, FILE_NAME))
  }

  /** Every record, private material included. Keep it secret. */
  toJSON(): { keys: SigningKeyRecord[] } {
    return { keys: this.#keys.map((k) => k.record) }
  }

  /** The key that signs new tokens: the newest one not yet retired. */
  current(): { keyId: string; alg: SigningAlgorithm; privateKey: CryptoKey | Uint8Array } {
    let best: LoadedKey | undefined
    for (const key of this.#keys) {
      if (key.record.retiresAtMs !== null) continue
      if (!best || key.record.createdAtMs > best.record.createdAtMs || (key.record.createdAtMs === best.record.createdAtMs && key.record.keyId > best.record.keyId)) best = key
    }
    // Every key retired can only come from hand-edited records; signing with the newest beats refusing to sign.
    best ??= [...this.#keys].sort((a, b) => b.record.createdAtMs - a.record.createdAtMs)[0]!
    return { keyId: best.record.keyId, alg: best.record.alg, privateKey: best.privateKey }
  }

  /** The key that verifies tokens with this `kid`, while it is still alive. */
  verificationKey(keyId: string, nowMs = Date.now()): { alg: SigningAlgorithm; key: CryptoKey | Uint8Array } | undefined {
    const key = this.#byId.get(keyId)
    if (!key || (key.record.retiresAtMs !== null && key.record.retiresAtMs <= nowMs)) return undefined
    return { alg: key.record.alg, key: key.publicKey }
  }

  /** Algorithms of the keys in the set: the default verification allowlist. */
  algorithms(): SigningAlgorithm[] {
    return [...new Set(this.#keys.map((k) => k.record.alg))]
  }

  /** Key ids in the set, newest first. */
  keyIds(): string[] {
    return [...this.#keys].sort((a, b) => b.record.createdAtMs - a.record.createdAtMs).map((k) => k.record.keyId)
  }

  /** Records without private material, newest first: for listings. */
  describe(): Omit<SigningKeyRecord, 'privateJwk'>[] {
    return [...this.#keys]
      .sort((a, b) => b.record.createdAtMs - a.record.createdAtMs)
      .map(({ record: { privateJwk: _private, ...rest } }) => rest)
  }

  /** The public JWKS: every asymmetric key whose tokens may still be alive. */
  publicJwks(nowMs = Date.now()): { keys: JWK[] } {
    return {
      keys: this.#keys
        .filter((k) => k.publicJwk && (k.record.retiresAtMs === null || k.record.retiresAtMs > nowMs))
        .sort((a, b) => b.record.createdAtMs - a.record.createdAtMs)
        .map((k) => k.publicJwk!),
    }
  }

  /**
   * Makes a new current key. The previous current key keeps verifying until
   * `retireAfterSeconds` (set it to the access-token lifetime) has passed, then
   * {@link prune} drops it.
   */
  async rotate(options: { alg?: SigningAlgorithm; retireAfterSeconds: number; nowMs?: number }): Promise<{ keyId: string }> {
    const nowMs = options.nowMs ?? Date.now()
    if (!Number.isFinite(options.retireAfterSeconds) || options.retireAfterSeconds < 0) {
      throw new TypeError('"retireAfterSeconds" must be a non-negative number')
    }
    const alg = options.alg ?? this.current().alg
    assertAlgorithm(alg)
    const fresh = await loadKey(await makeRecord(alg, Math.max(nowMs, ...this.#keys.map((k) => k.record.createdAtMs + 1))))
    const retiresAtMs = nowMs + options.retireAfterSeconds * 1000
    for (const key of this.#keys) {
      if (key.record.retiresAtMs === null) key.record = { ...key.record, retiresAtMs }
    }
    this.#keys = [...this.#keys, fresh]
    this.#byId.set(fresh.record.keyId, fresh)
    return { keyId: fresh.record.keyId }
  }

  /**
   * Takes over `records` (a newer version of this set, e.g. read from the
   * store) in place, so everything holding this set sees the change at once.
   * A key whose record carries the same material keeps its key objects, so
   * what was verified with it stays valid in verifier caches.
   */
  async replaceRecords(records: readonly SigningKeyRecord[]): Promise<void> {
    if (!Array.isArray(records) || records.length === 0) throw new TypeError('a signing key set needs at least one key')
    const keys = await Promise.all(
      records.map(async (record) => {
        const known = this.#byId.get(record.keyId)
        if (known && known.record.alg === record.alg && JSON.stringify(known.record.privateJwk) === JSON.stringify(record.privateJwk)) return { ...known, record }
        return loadKey(record)
      }),
    )
    this.#keys = keys
    this.#byId = new Map(keys.map((k) => [k.record.keyId, k]))
  }

  /** Drops keys whose tokens have all expired. */
  prune(nowMs = Date.now()): void {
    this.#keys = this.#keys.filter((k) => k.record.retiresAtMs === null || k.record.retiresAtMs > nowMs)
    this.#byId = new Map(this.#keys.map((k) => [k.record.keyId, k]))
  }
}
