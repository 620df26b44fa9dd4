import { HttpProblem } from './http-errors.js'
import { withBackoff, type RateLimiter, type RateLimitRule } from './rate-limiter.js'

/**
 * Sign-in lockout after OWASP's Authentication cheat sheet: only failed
 * sign-ins count, the count is per account for clients the account has never
 * seen, and per device for a browser with a valid device cookie (see
 * {@link DeviceCookies}), so a stranger's guesses lock strangers out and the
 * owner's known browsers keep working. Each lockout of the same key within a
 * day lasts twice the one before (up to an hour), so a guesser who sits
 * lockouts out gets slower and slower. The counters live in the limiter's
 * store: shared by every instance when it is Redis.
 *
 * @example
 * ```ts
 * const key = deviceId ? `login-device:${deviceId}` : `login-account:${ctx.limiterKey(email)}`
 * await lockout.assertOpen(key)
 * if (!valid) { await lockout.recordFailure(key); throw invalidCredentials }
 * ```
 */
export class LoginLockout {
  readonly #limiter: RateLimiter
  readonly #rule: RateLimitRule
  readonly #failureRule: RateLimitRule
  readonly #what: string

  /**
   * `rule.max` failures per window lock the key; the failure that reaches it starts the lockout.
   * `backoff: false` keeps every lockout one window long (for keys a stranger can name, such as a client id).
   */
  constructor(limiter: RateLimiter, rule: RateLimitRule, options: { what?: string; backoff?: boolean } = {}) {
    this.#limiter = limiter
    this.#what = options.what ?? 'sign-ins'
    this.#rule = options.backoff === false ? rule : withBackoff(rule)
    // The limiter starts a back-off lockout on the hit after `max`; one less makes it the max-th failure.
    this.#failureRule = { ...this.#rule, max: this.#rule.max - 1 }
  }

  /** Throws 429 while `key` is locked out, 503 when the limiter cannot be reached. */
  async assertOpen(key: string): Promise<void> {
    const refusal = await this.refusal(key)
    if (refusal) throw refusal
  }

  /** The 429 to answer while `key` is locked out, null while it is open; throws 503 when the limiter cannot be reached. */
  async refusal(key: string): Promise<HttpProblem | null> {
    let decision
    try {
      decision = await this.#limiter.peek(key, this.#rule)
    } catch (err) {
      throw new HttpProblem('ERR_RATE_LIMITER_UNAVAILABLE', 'the rate limiter is unavailable; try again shortly', { cause: err })
    }
    if (decision.allowed) return null
    return new HttpProblem('ERR_RATE_LIMITED', `too many failed ${this.#what}; retry in ${decision.retryAfterSeconds} s`, {
      headers: { 'retry-after': String(decision.retryAfterSeconds) },
    })
  }

  /** Counts one failed sign-in against `key`. */
  async recordFailure(key: string): Promise<void> {
    try {
      await this.#limiter.hit(key, this.#failureRule)
    } catch (err) {
      throw new HttpProblem('ERR_RATE_LIMITER_UNAVAILABLE', 'the rate limiter is unavailable; try again shortly', { cause: err })
    }
  }
}
