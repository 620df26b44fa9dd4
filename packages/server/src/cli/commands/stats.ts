// `tessera stats`: revocation-log length, Redis memory and key counts, and memory
// per live session measured on a sample of users. Never SCAN: a sample is named
// with --user or taken from the users in the newest revocation-log entries.
import { Command } from 'commander'
import type { RedisSessionStore, RedisTopologyOptions } from '@tessera/redis'
import { resolveUser, runAction, withAdmin, withJson } from './runtime.js'

const MAX_SAMPLE_USERS = 20
const LOG_SAMPLE_ENTRIES = 200

/** `INFO <section>` as a map of its `name:value` lines. */
export function parseInfo(text: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':')
    if (at > 0 && !line.startsWith('#')) map.set(line.slice(0, at), line.slice(at + 1).trim())
  }
  return map
}

async function info(store: RedisSessionStore, section: string): Promise<Map<string, string>> {
  const raw = await store.connection.send(['INFO', section])
  return parseInfo(Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw))
}

/** Users named in the newest log entries: users who recently had sessions, found without SCAN. */
async function recentUsers(store: RedisSessionStore): Promise<string[]> {
  const key = store.keys.revocationLog()
  const raw = (await store.connection.send(['XREVRANGE', key, '+', '-', 'COUNT', String(LOG_SAMPLE_ENTRIES)], { key })) as [string, string[]][] | null
  const users = new Set<string>()
  for (const [, fields] of raw ?? []) {
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'u') users.add(fields[i + 1]!)
    if (users.size >= MAX_SAMPLE_USERS) break
  }
  return [...users]
}

/** The `INFO keyspace` name of the database the store uses (`db3`): other databases belong to other applications. */
export function ownDatabase(redis: (RedisTopologyOptions & { url?: string }) | null): string {
  // Cluster has only database 0; Sentinel connections here select none.
  const path = redis?.url ? new URL(redis.url).pathname.slice(1) : ''
  return `db${Number(path || 0)}`
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

/**
 * The `stats` command.
 *
 * @example
 * ```ts
 * program.addCommand(statsCommand())   // tessera stats --user 42 --json
 * ```
 */
export function statsCommand(): Command {
  return withJson(new Command('stats').description('revocation-log length, Redis memory, and memory per live session on a sample of users (needs REDIS_URL)'))
    .option('--user <user>', 'measure this user (id, or email when DATABASE_URL is set; repeatable); default: users in the newest revocation-log entries', collect)
    .action(
      runAction(async ({ out, config }, options: { user?: string[] }) => {
        const named = options.user === undefined ? undefined : await Promise.all(options.user.map((user) => resolveUser(config(), user)))
        const database = ownDatabase(config().redis)
        const report = await withAdmin(config(), async ({ auth, store }) => {
          const log = await auth.revocationLogInfo()
          const memory = await info(store, 'memory')
          const keyspace = await info(store, 'keyspace')
          const sampleUsers = (named ?? (await recentUsers(store))).slice(0, MAX_SAMPLE_USERS)
          let sampledSessions = 0
          let sampledBytes = 0
          const users: { user_id: string; live_sessions: number; key_bytes: number }[] = []
          for (const userId of sampleUsers) {
            const key = store.keys.user(userId)
            const sessions = await auth.listSessions(userId)
            const bytes = Number((await store.connection.send(['MEMORY', 'USAGE', key, 'SAMPLES', '0'], { key })) ?? 0)
            users.push({ user_id: userId, live_sessions: sessions.length, key_bytes: bytes })
            if (sessions.length > 0) {
              sampledSessions += sessions.length
              sampledBytes += bytes
            }
          }
          const dbs: Record<string, { keys: number; expires: number }> = {}
          for (const [db, value] of keyspace) {
            if (db !== database) continue
            const fields = Object.fromEntries(value.split(',').map((kv) => kv.split('=') as [string, string]))
            dbs[db] = { keys: Number(fields.keys ?? 0), expires: Number(fields.expires ?? 0) }
          }
          // INFO leaves out an empty database; say 0 rather than nothing.
          dbs[database] ??= { keys: 0, expires: 0 }
          return {
            key_prefix: store.keys.prefix,
            revocation_log: { length: log.length, last_position: log.lastPosition },
            redis: { used_memory_bytes: Number(memory.get('used_memory') ?? 0), used_memory_human: memory.get('used_memory_human') ?? '', keyspace: dbs },
            sample: {
              users,
              live_sessions: sampledSessions,
              bytes_per_session: sampledSessions > 0 ? Math.round(sampledBytes / sampledSessions) : null,
            },
          }
        })
        const perSession = report.sample.bytes_per_session
        const keyLines = Object.entries(report.redis.keyspace).map(([db, v]) => `  ${db}: ${v.keys} keys, ${v.expires} with a TTL (this database, every key prefix in it)`)
        out.result(
          [
            `key prefix            ${report.key_prefix}`,
            `revocation log        ${report.revocation_log.length} entries (last ${report.revocation_log.last_position ?? 'none'})`,
            `redis memory          ${report.redis.used_memory_human} (${report.redis.used_memory_bytes} bytes)`,
            ...keyLines,
            `sampled users         ${report.sample.users.length}, ${report.sample.live_sessions} live session(s)`,
            `memory per session    ${perSession === null ? 'n/a (no live sessions among the sampled users; name one with --user <id>)' : `${perSession} bytes`}`,
          ],
          report,
        )
      }),
    )
}
