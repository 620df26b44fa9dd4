// `tessera events tail`: follows the revocation log live, one line per event.
import { Command, InvalidArgumentError } from 'commander'
import { formatSessionId, type RevocationLogEntry } from '@tessera/core'
import { resolveUser, runAction, withAdmin, withJson } from './runtime.js'

/** How long one blocking read waits; also the longest delay before a stop signal takes effect. */
const BLOCK_MS = 500

/** An entry in the JSON shape `events tail --json` prints, one per line. */
export function eventJson(entry: RevocationLogEntry): Record<string, unknown> {
  const base = { position: entry.position, at: new Date(entry.atMs).toISOString(), user_id: entry.event.userId }
  const e = entry.event
  switch (e.kind) {
    case 'session':
      return { ...base, type: e.reason === 'refresh_reuse_detected' ? 'refresh_reuse_detected' : 'session_revoked', session_id: formatSessionId(e.userId, e.localId), reason: e.reason }
    case 'user':
      return { ...base, type: e.reason === 'banned' ? 'user_banned' : 'user_sessions_revoked', cutoff: new Date(e.cutoffMs).toISOString(), reason: e.reason }
    case 'token':
      return { ...base, type: 'access_token_denied', token_id: e.tokenId, expires_at: new Date(e.expiresAtMs).toISOString() }
  }
}

function eventLine(entry: RevocationLogEntry): string {
  const j = eventJson(entry)
  const detail =
    entry.event.kind === 'session'
      ? `session ${String(j.session_id)} (${entry.event.reason})`
      : entry.event.kind === 'user'
        ? `sessions before ${String(j.cutoff)} (${entry.event.reason})`
        : `token ${entry.event.tokenId}`
  return `${String(j.at)}  ${String(j.type).padEnd(22)}  user ${entry.event.userId}  ${detail}`
}

function positiveInt(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number')
  return n
}

/**
 * The `events` command group.
 *
 * @example
 * ```ts
 * program.addCommand(eventsCommand())   // tessera events tail --json
 * ```
 */
export function eventsCommand(): Command {
  const events = new Command('events').description('watch revocations and refresh-token reuse (needs REDIS_URL)')

  withJson(events.command('tail').description('follow the revocation log live (session and user revocations, bans, denied tokens, reuse detections) until Ctrl-C'))
    .option('--from-start', 'print every event still in the log before following')
    .option('--user <user>', "only this user's events (user id, or email when DATABASE_URL is set)")
    .option('--count <n>', 'exit after n events', positiveInt)
    .action(
      runAction(async ({ out, config }, options: { fromStart?: boolean; count?: number; user?: string }) => {
        // Log entries name user ids: an email must become one first, or nothing would ever match.
        const userId = options.user === undefined ? undefined : await resolveUser(config(), options.user)
        await withAdmin(config(), async ({ auth, store }) => {
          let stopping = false
          const stop = (): void => {
            stopping = true
          }
          process.once('SIGINT', stop)
          process.once('SIGTERM', stop)
          try {
            let position = options.fromStart ? null : (await auth.revocationLogInfo()).lastPosition
            let printed = 0
            // On stderr even with --json, so scripts can wait for it before acting.
            process.stderr.write(`following ${store.revocationLogKey} (Ctrl-C to stop)\n`)
            while (!stopping) {
              const read = await auth.readRevocations(position, { blockMs: BLOCK_MS, count: 100 })
              // Events trimmed before we read them are lost to us; say so rather than pretend the stream is complete.
              if (read.gap) process.stderr.write(`tessera: warning: some events after ${position ?? 'the start'} were trimmed from the log before they were read\n`)
              for (const entry of read.entries) {
                position = entry.position
                if (userId !== undefined && entry.event.userId !== userId) continue
                out.line(eventLine(entry), eventJson(entry))
                printed += 1
                if (options.count !== undefined && printed >= options.count) return
              }
              // Heartbeats and kinds this version does not print are passed over too, or the next read would return them again.
              position = read.lastPosition ?? position
            }
          } finally {
            process.off('SIGINT', stop)
            process.off('SIGTERM', stop)
          }
        })
      }),
    )

  return events
}
