// `tessera stats`: revocation-log length, Redis memory and key counts, and memory
// per live session measured on a sample of users. Never SCAN: a sample is named
// with --user or taken from the users in the newest revocation-log entries.
import { Command } from 'commander'
import { resolveUser, runAction, withAdmin, withJson } from './runtime.js'

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
        const report = await withAdmin(config(), async ({ auth, store }) => {
          const log = await auth.revocationLogInfo()
          const measured = await store.diagnostics(named ? { users: named } : {})
          let sampledSessions = 0
          let sampledBytes = 0
          const users: { user_id: string; live_sessions: number; key_bytes: number }[] = []
          for (const { userId, keyBytes } of measured.users) {
            const sessions = await auth.listSessions(userId)
            users.push({ user_id: userId, live_sessions: sessions.length, key_bytes: keyBytes })
            if (sessions.length > 0) {
              sampledSessions += sessions.length
              sampledBytes += keyBytes
            }
          }
          return {
            key_prefix: measured.keyPrefix,
            revocation_log: { length: log.length, last_position: log.lastPosition },
            redis: {
              used_memory_bytes: measured.memory.usedBytes,
              used_memory_human: measured.memory.usedHuman,
              keyspace: { [measured.database.name]: { keys: measured.database.keys, expires: measured.database.expires } },
            },
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
