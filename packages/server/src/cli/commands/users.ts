// `tessera users revoke-all|ban|unban <user>`.
import { Command, InvalidArgumentError } from 'commander'
import { resolveUser, runAction, withAdmin, withJson } from './runtime.js'

const USER_ARGUMENT = 'user id, or email when DATABASE_URL is set'
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/**
 * Reads `--until`: a duration from now (`90m`, `12h`, `7d`, `2w`) or an ISO 8601
 * date-time. Returns epoch ms.
 *
 * @example
 * ```ts
 * parseUntil('7d', Date.now())                     // a week from now
 * parseUntil('2030-01-01T00:00:00Z', Date.now())
 * ```
 */
export function parseUntil(value: string, nowMs: number): number {
  const duration = /^(\d{1,6})([smhdw])$/.exec(value.trim())
  if (duration) return nowMs + Number(duration[1]) * UNIT_MS[duration[2]!]!
  // Only full dates: Date.parse accepts loose forms ("1") that would be silent mistakes.
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const ms = Date.parse(value.trim())
    if (Number.isFinite(ms)) {
      if (ms <= nowMs) throw new InvalidArgumentError('must be in the future')
      return ms
    }
  }
  throw new InvalidArgumentError('expected a duration such as 30m, 12h, 7d, 2w or an ISO date such as 2030-01-31T12:00:00Z')
}

/**
 * The `users` command group.
 *
 * @example
 * ```ts
 * program.addCommand(usersCommand())   // tessera users ban 42 --until 7d --reason abuse
 * ```
 */
export function usersCommand(): Command {
  const users = new Command('users').description('revoke, ban and unban users (needs REDIS_URL)')

  withJson(users.command('revoke-all').description('end every session of a user in one step').argument('<user>', USER_ARGUMENT))
    .option('--reason <reason>', 'reason recorded in the revocation log', 'revoked')
    .action(
      runAction(async ({ out, config }, user: string, options: { reason: string }) => {
        const userId = await resolveUser(config(), user)
        const count = await withAdmin(config(), ({ auth }) => auth.revokeAllSessions(userId, { reason: options.reason }))
        out.result(`revoked ${count} session(s) of user ${userId}; access tokens issued before now are rejected`, { user_id: userId, sessions_revoked: count })
      }),
    )

  withJson(users.command('ban').description('end every session of a user and refuse sign-in, until a time or until unbanned').argument('<user>', USER_ARGUMENT))
    .option('--until <when>', 'duration (30m, 12h, 7d, 2w) or ISO date; default: until unbanned', (v: string) => parseUntil(v, Date.now()))
    .option('--reason <text>', 'why (kept with the ban, at most 200 characters)')
    .action(
      runAction(async ({ out, config }, user: string, options: { until?: number; reason?: string }) => {
        const userId = await resolveUser(config(), user)
        const count = await withAdmin(config(), ({ auth }) =>
          auth.banUser(userId, { ...(options.until !== undefined ? { until: options.until } : {}), ...(options.reason ? { reason: options.reason } : {}) }),
        )
        const until = options.until === undefined ? null : new Date(options.until).toISOString()
        out.result(`banned user ${userId} ${until ? `until ${until}` : 'until unbanned'}; ${count} session(s) revoked`, {
          user_id: userId,
          banned: true,
          until,
          sessions_revoked: count,
        })
      }),
    )

  withJson(users.command('unban').description('lift a ban so the user can sign in again').argument('<user>', USER_ARGUMENT)).action(
    runAction(async ({ out, config }, user: string) => {
      const userId = await resolveUser(config(), user)
      const lifted = await withAdmin(config(), ({ auth }) => auth.unbanUser(userId))
      out.result(lifted ? `unbanned user ${userId}` : `user ${userId} was not banned`, { user_id: userId, unbanned: lifted })
    }),
  )

  return users
}
