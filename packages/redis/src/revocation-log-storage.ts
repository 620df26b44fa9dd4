import { classifyEntry, comparePositions, fieldsToEntry, heartbeatToFields } from '@tessera/core/internal'
import {
  AuthError,
  type IssuerHeartbeat,
  type IssuerHeartbeatFields,
  type RevocationLogEntry,
  type RevocationLogInfo,
  type RevocationLogRead,
  StoreUnavailable,
} from '@tessera/core'
import type { RedisArg, RedisConnection } from './connection.js'

/** Kept beyond the longest time a revocation matters: covers skew between Redis's clock and the issuers'. */
export const LOG_RETENTION_SLACK_MS = 60_000

/**
 * The error a failed Redis call becomes. A deadline that passed is already a
 * {@link StoreUnavailable} that says which limit and how long it waited: keep it.
 */
export function unavailable(err: unknown, message: string): StoreUnavailable {
  return err instanceof StoreUnavailable ? err : new StoreUnavailable(message, { cause: err })
}

/** A blocking read's time limit is its block time plus this (reply in flight, and opening its connection). */
const READ_SLACK_MS = 1000

interface LogStatus {
  lastPosition: string | null
  length: number
  firstPosition: string | null
}

/**
 * The revocation log of a Redis store (one stream): appends the scripts could
 * not make themselves, heartbeats, and reads for verifiers that follow it.
 */
export class RevocationLogStorage {
  readonly #connection: RedisConnection
  readonly #key: string
  #reader: Promise<RedisConnection> | null = null
  /** The blocking reader once it is open (what {@link #reader} resolved to). */
  #readerOpen: RedisConnection | null = null

  constructor(connection: RedisConnection, key: string) {
    this.#connection = connection
    this.#key = key
  }

  /**
   * Appends events a script returned instead of logging (Cluster, where the log
   * is in another slot), trimmed like the scripts trim it. Not atomic with the
   * script: a crash in between loses the event for cached verifiers only.
   */
  async append(pending: RedisArg[][], retentionMs: number, connection: RedisConnection): Promise<void> {
    const key = this.#key
    // The scripts trim by the server's clock; here the process clock stands in, the retention slack covers skew.
    const minId = String(Math.max(Date.now() - retentionMs, 0))
    try {
      await Promise.all(
        pending.map((fields) =>
          connection.send(['XADD', key, 'MINID', '~', minId, '*', ...fields.map((f) => (typeof f === 'number' ? String(f) : f))], { key }),
        ),
      )
    } catch (err) {
      throw unavailable(err, 'could not append to the revocation log')
    }
  }

  async #status(connection: RedisConnection): Promise<LogStatus> {
    const key = this.#key
    try {
      const raw = (await connection.send(['XINFO', 'STREAM', key], { key })) as unknown[]
      const info = new Map<string, unknown>()
      for (let i = 0; i + 1 < raw.length; i += 2) info.set(String(raw[i]), raw[i + 1])
      const first = info.get('first-entry') as [string, unknown] | null | undefined
      return {
        lastPosition: (info.get('last-generated-id') as string | undefined) ?? null,
        length: Number(info.get('length') ?? 0),
        firstPosition: first?.[0] ?? null,
      }
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return { lastPosition: null, length: 0, firstPosition: null }
      throw err
    }
  }

  /**
   * True when entries after `after` may have been trimmed before this reader saw
   * them. Trimming does not move Redis 7.0's max-deleted-entry-id, so this
   * compares with the oldest entry kept: conservative (a reader whose own last
   * entry was trimmed is told of a gap even when nothing after it was lost),
   * never blind.
   */
  static #gap(after: string | null, status: LogStatus): boolean {
    if (after === null || status.lastPosition === null) return false
    if (status.firstPosition === null) return comparePositions(after, status.lastPosition) < 0
    return comparePositions(after, status.firstPosition) < 0
  }

  /**
   * One XREAD. With `checkGap` (the default) an XINFO STREAM goes in the same
   * pipeline, still one round trip: it is what tells a reader that entries
   * after its position were trimmed. A follower that reads continuously can
   * ask for it only after a (re)connect and now and then (see the log
   * follower), since trimming never reaches entries younger than the retention.
   */
  async read(after: string | null, options: { count?: number; blockMs?: number; checkGap?: boolean } = {}): Promise<RevocationLogRead> {
    const key = this.#key
    const count = options.count ?? 1000
    const blockMs = options.blockMs ?? 0
    try {
      // A follower reads continuously: once its blocking connection is open, use it without another await.
      const connection = blockMs > 0 ? (this.#readerOpen ?? (await this.#blockingReader(blockMs + READ_SLACK_MS))) : this.#connection
      // Sent before the XREAD on the same connection, so Redis answers it first: the pair is one round trip.
      const status = options.checkGap === false ? null : this.#status(connection)
      const args =
        blockMs > 0 ? ['XREAD', 'COUNT', String(count), 'BLOCK', String(blockMs), 'STREAMS', key, after ?? '0-0'] : ['XREAD', 'COUNT', String(count), 'STREAMS', key, after ?? '0-0']
      const read = connection.send(args, { key, ...(blockMs > 0 ? { timeoutMs: blockMs + READ_SLACK_MS, timeoutName: 'blockMs + 1 s' } : {}) }) as Promise<[string, [string, string[]][]][] | null>
      let gap = false
      let raw: [string, [string, string[]][]][] | null
      if (status) {
        // Both are awaited together: a failed XINFO must not leave the XREAD's rejection unhandled.
        const [logStatus, reply] = await Promise.all([status, read])
        gap = RevocationLogStorage.#gap(after, logStatus)
        raw = reply
      } else {
        // Most reads of a follower: the XREAD alone, resolved straight to the caller (no Promise.all per wake-up).
        raw = await read
      }
      const entries: RevocationLogEntry[] = []
      const heartbeats: IssuerHeartbeat[] = []
      const into = { entries, heartbeats }
      let lastPosition: string | null = null
      const items = raw?.[0]?.[1] ?? []
      for (const [id, flat] of items) {
        const fields: Record<string, string> = {}
        for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!
        classifyEntry(id, fields, into)
        lastPosition = id
      }
      return { entries, heartbeats, lastPosition, count: items.length, gap }
    } catch (err) {
      if (err instanceof AuthError) throw err
      throw unavailable(err, 'could not read the revocation log')
    }
  }

  /** Opens the blocking connection within `limitMs`, the limit of the read that needs it: a read fails rather than wait for Redis to return. */
  #blockingReader(limitMs: number): Promise<RedisConnection> {
    if (this.#reader) return this.#reader
    const opening: Promise<RedisConnection> = this.#connection.duplicate({ connectTimeoutMs: limitMs }).then(
      (reader) => {
        // Unless close() came first: it closes this reader, which must not be handed out again.
        if (this.#reader === opening) this.#readerOpen = reader
        return reader
      },
      (err: unknown) => {
        if (this.#reader === opening) this.#reader = null
        throw err
      },
    )
    this.#reader = opening
    return opening
  }

  async appendHeartbeat(heartbeat: IssuerHeartbeatFields, retentionMs: number): Promise<void> {
    const key = this.#key
    // One command on the log's own key: the same on Cluster. Trimmed like every append (see append()).
    const minId = String(Math.max(Date.now() - retentionMs - LOG_RETENTION_SLACK_MS, 0))
    try {
      await this.#connection.send(['XADD', key, 'MINID', '~', minId, '*', ...heartbeatToFields(heartbeat)], { key })
    } catch (err) {
      throw unavailable(err, 'could not append to the revocation log')
    }
  }

  async info(): Promise<RevocationLogInfo> {
    try {
      const { lastPosition, length } = await this.#status(this.#connection)
      return { lastPosition, length }
    } catch (err) {
      throw unavailable(err, 'could not read the revocation log')
    }
  }

  /**
   * The users named in the newest `entries` entries (revocations, bans, denied
   * tokens), newest first, at most `maxUsers`: users who recently had sessions,
   * found without SCAN. Heartbeats name none.
   */
  async recentUsers(maxUsers: number, entries: number): Promise<string[]> {
    const key = this.#key
    let raw: [string, string[]][] | null
    try {
      raw = (await this.#connection.send(['XREVRANGE', key, '+', '-', 'COUNT', String(entries)], { key })) as [string, string[]][] | null
    } catch (err) {
      throw unavailable(err, 'could not read the revocation log')
    }
    const users = new Set<string>()
    for (const [id, flat] of raw ?? []) {
      if (users.size >= maxUsers) break
      const fields: Record<string, string> = {}
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!
      const entry = fieldsToEntry(id, fields)
      if (entry) users.add(entry.event.userId)
    }
    return [...users]
  }

  /** Closes the blocking reader, if one was opened. */
  async close(): Promise<void> {
    const reader = this.#reader
    this.#reader = null
    this.#readerOpen = null
    // A reader that failed to open has nothing to close.
    if (reader) await reader.then((r) => r.close(), () => undefined)
  }
}
