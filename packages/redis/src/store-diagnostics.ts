import type { RedisConnection } from './connection.js'
import type { KeyNames } from './key-names.js'
import type { RevocationLogStorage } from './revocation-log-storage.js'
import { unavailable } from './revocation-log-storage.js'

/** What {@link RedisSessionStore.diagnostics} measured. */
export interface RedisStoreDiagnostics {
  /** The store's key prefix. */
  keyPrefix: string
  /** The Redis server's `used_memory` (every database and prefix on it), in bytes and as Redis writes it (`1.88M`). */
  memory: { usedBytes: number; usedHuman: string }
  /**
   * The database the store uses (`db3`): how many keys it holds and how many
   * of them have a TTL. Every key prefix in that database counts; other
   * databases, which belong to other applications, are never read.
   */
  database: { name: string; keys: number; expires: number }
  /** Bytes of each sampled user's session key (`MEMORY USAGE`; 0 when the user has none), in sample order. */
  users: { userId: string; keyBytes: number }[]
}

/** Options of {@link RedisSessionStore.diagnostics}. */
export interface RedisStoreDiagnosticsOptions {
  /** Users to measure. Default: the users named in the newest revocation-log entries. */
  users?: readonly string[]
  /** At most this many users are measured. Default 20. */
  maxUsers?: number
  /** How many of the newest log entries are searched for users when none are named. Default 200. */
  logEntries?: number
}

/** `INFO <section>` as a map of its `name:value` lines. */
function parseInfo(reply: unknown): Map<string, string> {
  const text = Buffer.isBuffer(reply) ? reply.toString('utf8') : String(reply)
  const map = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':')
    if (at > 0 && !line.startsWith('#')) map.set(line.slice(0, at), line.slice(at + 1).trim())
  }
  return map
}

/** The database this connection uses: Cluster has only 0; otherwise `CLIENT INFO` says (`db=3`), whatever the topology selected. */
async function ownDatabase(connection: RedisConnection): Promise<number> {
  if (connection.isCluster) return 0
  const reply = await connection.send(['CLIENT', 'INFO'])
  const db = /(?:^|\s)db=(\d+)/.exec(Buffer.isBuffer(reply) ? reply.toString('utf8') : String(reply))?.[1]
  return Number(db ?? 0)
}

/**
 * Reads what {@link RedisSessionStore.diagnostics} reports: a handful of
 * commands (INFO, CLIENT INFO, XREVRANGE, one MEMORY USAGE per user), never SCAN.
 */
export async function readDiagnostics(
  parts: { connection: RedisConnection; keys: KeyNames; log: RevocationLogStorage },
  options: RedisStoreDiagnosticsOptions = {},
): Promise<RedisStoreDiagnostics> {
  const { connection, keys, log } = parts
  const maxUsers = options.maxUsers ?? 20
  const sample = (options.users ? [...options.users] : await log.recentUsers(maxUsers, options.logEntries ?? 200)).slice(0, maxUsers)
  try {
    const [memory, keyspace, db] = await Promise.all([connection.send(['INFO', 'memory']).then(parseInfo), connection.send(['INFO', 'keyspace']).then(parseInfo), ownDatabase(connection)])
    const name = `db${db}`
    // `keys=10,expires=7,avg_ttl=...`; INFO leaves out an empty database: 0 keys.
    const counts = Object.fromEntries((keyspace.get(name) ?? '').split(',').map((kv) => kv.split('=') as [string, string]))
    const users = await Promise.all(
      sample.map(async (userId) => {
        const key = keys.user(userId)
        return { userId, keyBytes: Number((await connection.send(['MEMORY', 'USAGE', key, 'SAMPLES', '0'], { key })) ?? 0) }
      }),
    )
    return {
      keyPrefix: keys.prefix,
      memory: { usedBytes: Number(memory.get('used_memory') ?? 0), usedHuman: memory.get('used_memory_human') ?? '' },
      database: { name, keys: Number(counts.keys ?? 0), expires: Number(counts.expires ?? 0) },
      users,
    }
  } catch (err) {
    throw unavailable(err, 'could not read the store diagnostics')
  }
}
