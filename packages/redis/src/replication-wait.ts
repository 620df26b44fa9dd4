import { StoreUnavailable } from '@tessera/core'
import type { RedisConnection } from './connection.js'

/**
 * Revocations (revoke a session, revoke all, ban, deny a token) are acknowledged
 * only once `replicas` replicas have them (`WAIT`), so a failover to one of
 * those replicas cannot bring a revoked session back. When fewer replicas
 * confirm within `timeoutMs`, the revocation fails with `ERR_STORE_UNAVAILABLE`
 * (it may still have been applied on the master: retrying it is safe).
 */
export interface RedisDurability {
  /** Replicas that must confirm each revocation, at least 1. */
  replicas: number
  /** Most time to wait for them, in ms; keep it below the command timeout. Default 500. */
  timeoutMs?: number
}

/** Checks and completes a {@link RedisDurability}; null when it is not given. */
export function resolveDurability(d: RedisDurability | undefined): Required<RedisDurability> | null {
  if (d === undefined) return null
  if (!Number.isInteger(d.replicas) || d.replicas < 1) throw new TypeError('"durability.replicas" option must be a positive integer')
  const timeoutMs = d.timeoutMs ?? 500
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new TypeError('"durability.timeoutMs" option must be a positive integer')
  return { replicas: d.replicas, timeoutMs }
}

/**
 * Writes that must reach replicas before they are acknowledged, and the WAITs
 * that confirm them.
 *
 * `WAIT` blocks the connection it is sent on until the replicas answer (up to
 * its timeout) and only covers that connection's own writes, so these writes
 * go on a connection of their own: they wait for each other, never for the
 * refreshes and verifications on the shared connection. On one node,
 * revocations that arrive while a WAIT is in flight share the next WAIT
 * (group commit): N concurrent revocations cost two WAITs, not N in a row,
 * which matters when a replica is down and every WAIT runs to its timeout.
 */
export class ReplicationWait {
  readonly #shared: RedisConnection
  readonly #durability: Required<RedisDurability>
  #writer: Promise<RedisConnection> | null = null
  #inFlight: Promise<number> | null = null
  #queued: Promise<number> | null = null

  constructor(shared: RedisConnection, durability: Required<RedisDurability>) {
    this.#shared = shared
    this.#durability = durability
  }

  /** The connection to write durable changes on (opened on first use). */
  connection(): Promise<RedisConnection> {
    this.#writer ??= this.#shared.duplicate().catch((err: unknown) => {
      this.#writer = null
      throw err
    })
    return this.#writer
  }

  /** Resolves when the node owning `key` has the earlier writes of `connection` on enough replicas; else ERR_STORE_UNAVAILABLE. */
  async confirm(key: string, connection: RedisConnection): Promise<void> {
    const { replicas, timeoutMs } = this.#durability
    let acknowledged: number
    try {
      // On Cluster each key may live on another node: one WAIT each, no sharing.
      acknowledged = connection.isCluster ? await this.#send(key, connection) : await this.#grouped(key, connection)
    } catch (err) {
      // Keep the reason (a deadline names its limit and how long it waited; a connection that could not open says so).
      throw new StoreUnavailable(`could not confirm replication of the revocation: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    if (acknowledged < replicas) throw new StoreUnavailable(`revocation reached ${acknowledged} of ${replicas} replicas in ${timeoutMs} ms`)
  }

  /** Closes the writer connection if it was opened. */
  async close(): Promise<void> {
    const writer = this.#writer
    this.#writer = null
    // A writer that failed to open has nothing to close.
    if (writer) await writer.then((c) => c.close(), () => undefined)
  }

  #send(key: string, connection: RedisConnection): Promise<number> {
    const { replicas, timeoutMs } = this.#durability
    return connection.send(['WAIT', String(replicas), String(timeoutMs)], { key, timeoutMs: timeoutMs + 1000, timeoutName: 'durability.timeoutMs + 1 s' }).then(Number)
  }

  #grouped(key: string, connection: RedisConnection): Promise<number> {
    if (this.#queued) return this.#queued
    if (!this.#inFlight) return this.#start(key, connection)
    this.#queued = this.#inFlight
      .catch(() => 0)
      .then(() => {
        this.#queued = null
        return this.#start(key, connection)
      })
    return this.#queued
  }

  #start(key: string, connection: RedisConnection): Promise<number> {
    const wait = this.#send(key, connection)
    this.#inFlight = wait
    const clear = () => {
      if (this.#inFlight === wait) this.#inFlight = null
    }
    wait.then(clear, clear)
    return wait
  }
}
