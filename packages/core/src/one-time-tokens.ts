import type { Span } from '@opentelemetry/api'
import type { EngineContext } from './engine-context.js'
import { InvalidInput, OneTimeTokenInvalid } from './errors.js'
import { assertUserId, newRefreshSecret } from './ids.js'
import { formatOneTimeToken, isPurpose, parseOneTimeToken } from './one-time-token.js'
import { ATTR, CORE_ATTR, inSpan, SPAN, tracer } from './telemetry.js'
import { hashSecret, type TokenSecrets } from './token-secrets.js'

/**
 * The engine's one-time tokens (email verification, password reset, ...):
 * issue, consume, check and revoke. {@link Tessera} delegates its
 * `…OneTimeToken…` methods here; their contracts are documented there.
 * The token format itself is in `one-time-token.ts`.
 */
export class OneTimeTokens {
  readonly #ctx: EngineContext
  readonly #secrets: TokenSecrets

  constructor(ctx: EngineContext, secrets: TokenSecrets) {
    this.#ctx = ctx
    this.#secrets = secrets
  }

  /** See {@link Tessera.issueOneTimeToken}. */
  issue(userId: string, purpose: string, options: { ttlSeconds?: number; data?: string }): Promise<{ token: string; expiresAtMs: number }> {
    return inSpan(tracer, SPAN.issueOneTimeToken, undefined, (span) => this.#issue(userId, purpose, options, span))
  }

  async #issue(userId: string, purpose: string, options: { ttlSeconds?: number; data?: string }, span: Span): Promise<{ token: string; expiresAtMs: number }> {
    const ctx = this.#ctx
    assertUserId(userId)
    if (!isPurpose(purpose)) throw new InvalidInput('purpose must be 1-32 characters of a-z, 0-9, _ and -, starting with a letter')
    const ttlSeconds = options.ttlSeconds ?? ctx.options.oneTimeTokenTtlSeconds
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 30 * 24 * 3600) throw new InvalidInput('ttlSeconds must be an integer from 1 to 2592000')
    const data = options.data ?? ''
    if (typeof data !== 'string' || data.length > 1024) throw new InvalidInput('data must be a string of at most 1024 characters')
    const nowMs = ctx.nowMs()
    const secret = newRefreshSecret()
    const expiresAtMs = nowMs + ttlSeconds * 1000
    ctx.describe(span, userId, { [CORE_ATTR.purpose]: purpose })
    await ctx.callStore(() => ctx.store.issueOneTimeToken({ userId, purpose, secretHash: hashSecret(secret), expiresAtMs, nowMs, data }))
    ctx.events.emit('one_time_token_issued', { userId, purpose })
    return { token: formatOneTimeToken(this.#secrets, userId, purpose, secret), expiresAtMs }
  }

  /** See {@link Tessera.consumeOneTimeToken}. */
  consume(token: string, purpose: string): Promise<{ userId: string; data: string }> {
    return inSpan(tracer, SPAN.consumeOneTimeToken, undefined, (span) => this.#consume(token, purpose, span))
  }

  async #consume(token: string, purpose: string, span: Span): Promise<{ userId: string; data: string }> {
    const ctx = this.#ctx
    const parts = parseOneTimeToken(this.#secrets, token)
    if (parts.purpose !== purpose) throw new OneTimeTokenInvalid()
    ctx.describe(span, parts.userId, { [CORE_ATTR.purpose]: purpose })
    const data = await ctx.callStore(() =>
      ctx.store.consumeOneTimeToken({
        userId: parts.userId,
        purpose,
        secretHash: hashSecret(parts.secret),
        nowMs: ctx.nowMs(),
        maxAttempts: ctx.options.oneTimeTokenMaxAttempts,
      }),
    )
    if (span.isRecording()) span.setAttribute(ATTR.outcome, 'consumed')
    ctx.events.emit('one_time_token_consumed', { userId: parts.userId, purpose })
    return { userId: parts.userId, data }
  }

  /** See {@link Tessera.checkOneTimeToken}. */
  async check(token: string, purpose: string): Promise<boolean> {
    const ctx = this.#ctx
    let parts: ReturnType<typeof parseOneTimeToken>
    try {
      parts = parseOneTimeToken(this.#secrets, token)
    } catch {
      return false
    }
    if (parts.purpose !== purpose) return false
    return ctx.callStore(() => ctx.store.checkOneTimeToken({ userId: parts.userId, purpose, secretHash: hashSecret(parts.secret), nowMs: ctx.nowMs() }))
  }

  /** See {@link Tessera.revokeOneTimeTokens}. */
  async revoke(userId: string, purposes?: readonly string[]): Promise<number> {
    const ctx = this.#ctx
    assertUserId(userId)
    if (purposes !== undefined && (!Array.isArray(purposes) || !purposes.every(isPurpose))) throw new InvalidInput('purposes must be purpose names')
    return ctx.callStore(() => ctx.store.revokeOneTimeTokens({ userId, ...(purposes === undefined ? {} : { purposes }) }))
  }
}
