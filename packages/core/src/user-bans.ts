import type { Span } from '@opentelemetry/api'
import type { EngineContext } from './engine-context.js'
import { InvalidInput, UserBanned } from './errors.js'
import { assertUserId } from './ids.js'
import type { UserState } from './session-store.js'
import { ATTR, CORE_ATTR, inSpan, SPAN, tracer } from './telemetry.js'

/**
 * Bans and the user state they live in: ban, unban, read the state, refuse a
 * banned user. {@link Tessera} delegates `banUser`, `unbanUser`,
 * `getUserState` and `assertNotBanned` here; their contracts are documented there.
 */
export class UserBans {
  readonly #ctx: EngineContext

  constructor(ctx: EngineContext) {
    this.#ctx = ctx
  }

  /** See {@link Tessera.banUser}. */
  ban(userId: string, options: { until?: Date | number; reason?: string }): Promise<number> {
    return inSpan(tracer, SPAN.banUser, undefined, (span) => this.#ban(userId, options, span))
  }

  async #ban(userId: string, options: { until?: Date | number; reason?: string }, span: Span): Promise<number> {
    const ctx = this.#ctx
    assertUserId(userId)
    const nowMs = ctx.nowMs()
    const untilMs = options.until === undefined ? null : options.until instanceof Date ? options.until.getTime() : options.until
    if (untilMs !== null && (!Number.isFinite(untilMs) || untilMs <= nowMs)) throw new InvalidInput('ban "until" must be in the future')
    const reason = (options.reason ?? '').slice(0, 200)
    // Not the ban's reason: free text an admin typed may name people.
    ctx.describe(span, userId, { [CORE_ATTR.reason]: 'banned' })
    const count = await ctx.callStore(() =>
      ctx.store.banUser({ userId, untilMs, reason, nowMs, revocationTtlMs: ctx.options.revocationTtlMs, tokenHorizonMs: ctx.options.tokenHorizonMs }),
    )
    // A reset or verification link mailed before the ban must not outlive it.
    await ctx.callStore(() => ctx.store.revokeOneTimeTokens({ userId }))
    if (span.isRecording()) span.setAttributes({ [ATTR.outcome]: 'banned', [CORE_ATTR.sessionCount]: count })
    ctx.events.emit('user_banned', { userId, untilMs, reason, sessionsRevoked: count })
    return count
  }

  /** See {@link Tessera.unbanUser}. */
  unban(userId: string): Promise<boolean> {
    return inSpan(tracer, SPAN.unbanUser, undefined, (span) => this.#unban(userId, span))
  }

  async #unban(userId: string, span: Span): Promise<boolean> {
    const ctx = this.#ctx
    assertUserId(userId)
    ctx.describe(span, userId)
    const lifted = await ctx.callStore(() => ctx.store.unbanUser({ userId, nowMs: ctx.nowMs(), revocationTtlMs: ctx.options.revocationTtlMs }))
    if (span.isRecording()) span.setAttribute(ATTR.outcome, lifted ? 'unbanned' : 'not_banned')
    if (lifted) ctx.events.emit('user_unbanned', { userId })
    return lifted
  }

  /** See {@link Tessera.getUserState}. */
  async state(userId: string): Promise<UserState> {
    const ctx = this.#ctx
    assertUserId(userId)
    return ctx.callStore(() => ctx.store.getUserState(userId, ctx.nowMs()))
  }

  /** See {@link Tessera.assertNotBanned}. */
  async assertNotBanned(userId: string): Promise<void> {
    const state = await this.state(userId)
    if (state.banned) throw new UserBanned(state.bannedUntilMs)
  }
}
