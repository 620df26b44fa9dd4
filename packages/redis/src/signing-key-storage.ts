import { type StoredSigningKeys, type WriteSigningKeysRequest, type WriteSigningKeysResult } from '@tessera/core'
import type { RedisConnection } from './connection.js'
import { unavailable } from './revocation-log-storage.js'
import type { Scripts } from './scripts.js'
import { traceCommand, traceCommandIfParent } from './telemetry.js'

/**
 * The fleet's signing key set in Redis: one hash (`v` version, `d` sealed
 * document) that {@link RedisSessionStore} reads and replaces through here.
 * The document is opaque to Redis: private keys inside it are sealed by core.
 */
export class SigningKeyStorage {
  readonly #connection: RedisConnection
  readonly #scripts: Scripts
  readonly #key: string

  constructor(connection: RedisConnection, scripts: Scripts, key: string) {
    this.#connection = connection
    this.#scripts = scripts
    this.#key = key
  }

  async read(): Promise<StoredSigningKeys | null> {
    const [version, document] = (await traceCommand('HMGET signing-keys', 'HMGET', null, () => this.#send(['HMGET', this.#key, 'v', 'd']))) as [string | null, string | null]
    return version && document ? { version: Number(version), document } : null
  }

  /** Polled by every instance on a timer (shared-signing-keys.ts): traced only when a traced operation asks. */
  async version(): Promise<number> {
    return Number((await traceCommandIfParent('HGET signing-keys', 'HGET', () => this.#send(['HGET', this.#key, 'v']))) ?? 0)
  }

  async write(r: WriteSigningKeysRequest): Promise<WriteSigningKeysResult> {
    if (!Number.isSafeInteger(r.expectedVersion) || r.expectedVersion < 0) throw new TypeError('"expectedVersion" must be a non-negative integer')
    let reply
    try {
      reply = await this.#scripts.call(this.#connection, 'writeSigningKeys', [this.#key], { expectedVersion: r.expectedVersion, document: r.document })
    } catch (err) {
      // A deadline or an unknown reply code is already a StoreUnavailable that says so.
      throw unavailable(err, 'session store is unavailable')
    }
    if (reply.reply === 'written') return { written: true, version: Number(reply.payload[0]) }
    const version = Number(reply.payload[0])
    return { written: false, current: version > 0 ? { version, document: String(reply.payload[1]) } : null }
  }

  async #send(command: string[]): Promise<unknown> {
    try {
      return await this.#connection.send(command, { key: this.#key })
    } catch (err) {
      // A deadline's own message says which limit passed and how long the read waited.
      throw unavailable(err, 'session store is unavailable')
    }
  }
}
