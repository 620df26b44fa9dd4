// `tessera sessions list <user>` and `tessera sessions revoke <session>`.
import { Command } from 'commander'
import { parseSessionId, printable, type SessionInfo } from '@tessera/core'
import { sessionView } from '../../server/session-view.js'
import { CliError, EXIT, resolveUser, runAction, withAdmin, withJson } from './runtime.js'

/** A session as GET /auth/sessions shows it (the one session view), plus what only an operator sees. */
function sessionJson(s: SessionInfo): Record<string, unknown> {
  return { ...sessionView(s, null), device_class: s.device.deviceClass, generation: s.generation }
}

/** One line per session; what the client chose (name, user agent) is made printable, as sessions stored before that rule may hold escapes. */
function sessionLine(s: SessionInfo): string {
  const view = sessionView(s, null)
  const device = [view.device_name || null, [view.browser, view.os].filter(Boolean).join(' on ') || null].filter(Boolean).join(', ') || 'unknown device'
  return printable(`  ${view.session_id}  ${device}  ip ${view.ip || '-'}  signed in ${view.created_at}  last active ${view.last_seen_at}`)
}

/**
 * The `sessions` command group.
 *
 * @example
 * ```ts
 * program.addCommand(sessionsCommand())   // tessera sessions list 42 --json
 * ```
 */
export function sessionsCommand(): Command {
  const sessions = new Command('sessions').description("list and revoke a user's sessions (needs REDIS_URL)")

  withJson(sessions.command('list').description("list a user's live sessions, newest first").argument('<user>', 'user id, or email when DATABASE_URL is set')).action(
    runAction(async ({ out, config }, user: string) => {
      const userId = await resolveUser(config(), user)
      const list = await withAdmin(config(), ({ auth }) => auth.listSessions(userId))
      const lines = list.length === 0 ? [`user ${userId} has no live sessions`] : [`user ${userId} has ${list.length} live session(s):`, ...list.map(sessionLine)]
      out.result(lines, { user_id: userId, sessions: list.map(sessionJson) })
    }),
  )

  withJson(sessions.command('revoke').description('end one session at once (its refresh and access tokens stop working)').argument('<session>', 'session id'))
    .option('--reason <reason>', 'reason recorded in the revocation log', 'revoked')
    .action(
      runAction(async ({ out, config }, sessionId: string, options: { reason: string }) => {
        if (!parseSessionId(sessionId)) throw new CliError(`"${sessionId.slice(0, 80)}" is not a Tessera session id`, { code: 'ERR_INVALID_INPUT', exitCode: EXIT.usage })
        const existed = await withAdmin(config(), ({ auth }) => auth.revokeSession(sessionId, { reason: options.reason }))
        if (!existed) throw new CliError(`session ${sessionId} is not live (unknown, expired or already revoked)`, { code: 'ERR_SESSION_NOT_FOUND', exitCode: EXIT.notFound })
        out.result(`revoked session ${sessionId}`, { session_id: sessionId, revoked: true })
      }),
    )

  return sessions
}
