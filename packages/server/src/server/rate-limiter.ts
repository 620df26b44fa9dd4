import { LRUCache } from 'lru-cache'
import { RedisRateLimitCounters, type RedisConnection } from '@tessera/redis'
import { HttpProblem } from './http-errors.js'

/** One limit: at most `max` hits per `windowSeconds`. */
export interface RateLimitRule {
  max: number
  windowSeconds: number
  /**
   * Lockout back-off: each time the limit is reached again (within a day), the
   * lockout doubles, up to this many seconds. Off when absent.
   */
  backoffMaxSeconds?: number
}

/** Longest lockout the back-off reaches by default. */
export const LOCKOUT_BACKOFF_MAX_SECONDS = 3600

/** The rule with lockout back-off on (the account limits of login and password change). */
export function withBackoff(rule: RateLimitRule): RateLimitRule {
  return { ...rule, backoffMaxSeconds: rule.backoffMaxSeconds ?? LOCKOUT_BACKOFF_MAX_SECONDS }
}

/** How long an account's lockouts are remembered for the back-off. */
const STRIKE_MEMORY_MS = 24 * 3600 * 1000

/** Lockout length after `strikes` lockouts: the window, doubled each time, capped. */
function lockoutMs(rule: RateLimitRule, strikes: number): number {
  return Math.min(rule.windowSeconds * 1000 * 2 ** Math.max(0, strikes - 1), (rule.backoffMaxSeconds ?? 0) * 1000)
}

/** Result of counting one hit. */
export interface RateLimitDecision {
  allowed: boolean
  /** Milliseconds until the window (or the lockout) ends, on the limiter's own clock; 0 when nothing is counted. */
  retryAfterMs: number
  /** The same in whole seconds, at least 1 while counted (for Retry-After). */
  retryAfterSeconds: number
}

function decision(allowed: boolean, remainingMs: number): RateLimitDecision {
  return { allowed, retryAfterMs: remainingMs, retryAfterSeconds: Math.max(1, Math.ceil(remainingMs / 1000)) }
}

const NOTHING_COUNTED: RateLimitDecision = { allowed: true, retryAfterMs: 0, retryAfterSeconds: 0 }

/**
 * Fixed-window counters by key. Implementations throw when their state cannot
 * be reached: callers fail closed.
 *
 * @example
 * ```ts
 * const decision = await limiter.hit(`login-ip:${ip}`, { max: 20, windowSeconds: 60 })
 * if (!decision.allowed) reply.header('retry-after', decision.retryAfterSeconds)
 * ```
 */
export interface RateLimiter {
  readonly kind: 'memory' | 'redis'
  hit(key: string, rule: RateLimitRule): Promise<RateLimitDecision>
  /** Whether one more hit would be allowed, without counting one. */
  peek(key: string, rule: RateLimitRule): Promise<RateLimitDecision>
  ping(): Promise<void>
}

/** Counters in process memory (single instance, the embedded default). */
export class MemoryRateLimiter implements RateLimiter {
  readonly kind = 'memory'
  // Bounded, so a flood of distinct keys (spoofed emails) cannot exhaust memory.
  readonly #windows = new LRUCache<string, { count: number; resetAtMs: number }>({ max: 100_000 })
  readonly #strikes = new LRUCache<string, { count: number; forgetAtMs: number }>({ max: 100_000 })

  async hit(key: string, rule: RateLimitRule): Promise<RateLimitDecision> {
    const nowMs = Date.now()
    let window = this.#windows.get(key)
    if (!window || window.resetAtMs <= nowMs) {
      window = { count: 0, resetAtMs: nowMs + rule.windowSeconds * 1000 }
      this.#windows.set(key, window)
    }
    window.count += 1
    if (window.count === rule.max + 1 && rule.backoffMaxSeconds) {
      const known = this.#strikes.get(key)
      const strikes = (known && known.forgetAtMs > nowMs ? known.count : 0) + 1
      this.#strikes.set(key, { count: strikes, forgetAtMs: nowMs + STRIKE_MEMORY_MS })
      window.resetAtMs = Math.max(window.resetAtMs, nowMs + lockoutMs(rule, strikes))
    }
    return decision(window.count <= rule.max, window.resetAtMs - nowMs)
  }

  async peek(key: string, rule: RateLimitRule): Promise<RateLimitDecision> {
    const nowMs = Date.now()
    const window = this.#windows.get(key)
    if (!window || window.resetAtMs <= nowMs) return NOTHING_COUNTED
    return decision(window.count < rule.max, window.resetAtMs - nowMs)
  }

  async ping(): Promise<void> {}
}

/** Counters in Redis, shared by every instance (`RedisRateLimitCounters` of `@tessera/redis`: its scripts and key names). */
export class RedisRateLimiter implements RateLimiter {
  readonly kind = 'redis'
  readonly #counters: RedisRateLimitCounters

  constructor(connection: RedisConnection, keyPrefix: string) {
    this.#counters = new RedisRateLimitCounters(connection, { keyPrefix })
  }

  async hit(key: string, rule: RateLimitRule): Promise<RateLimitDecision> {
    const { count, ttlMs } = await this.#counters.hit(key, {
      windowMs: rule.windowSeconds * 1000,
      max: rule.max,
      lockoutCapMs: (rule.backoffMaxSeconds ?? 0) * 1000,
      strikeMemoryMs: STRIKE_MEMORY_MS,
    })
    return decision(count <= rule.max, ttlMs)
  }

  async peek(key: string, rule: RateLimitRule): Promise<RateLimitDecision> {
    const { count, ttlMs } = await this.#counters.peek(key)
    if (count === 0 || ttlMs < 0) return NOTHING_COUNTED
    return decision(count < rule.max, ttlMs)
  }

  async ping(): Promise<void> {
    await this.#counters.ping()
  }
}

/**
 * Counts a hit and returns false when over the limit (for background work,
 * which has no one to answer); throws a 503 problem when the limiter is down.
 */
export async function withinRateLimit(limiter: RateLimiter, key: string, rule: RateLimitRule): Promise<boolean> {
  try {
    return (await limiter.hit(key, rule)).allowed
  } catch (err) {
    throw new HttpProblem('ERR_RATE_LIMITER_UNAVAILABLE', 'the rate limiter is unavailable; try again shortly', { cause: err })
  }
}

/**
 * Counts a hit and throws a 429 problem when over the limit. When the
 * limiter's state cannot be reached it throws a 503: failing closed beats
 * allowing unlimited password guesses.
 */
export async function enforceRateLimit(limiter: RateLimiter, key: string, rule: RateLimitRule): Promise<void> {
  let decision: RateLimitDecision
  try {
    decision = await limiter.hit(key, rule)
  } catch (err) {
    throw new HttpProblem('ERR_RATE_LIMITER_UNAVAILABLE', 'the rate limiter is unavailable; try again shortly', { cause: err })
  }
  if (!decision.allowed) {
    throw new HttpProblem('ERR_RATE_LIMITED', `too many attempts; retry in ${decision.retryAfterSeconds} s`, {
      headers: { 'retry-after': String(decision.retryAfterSeconds) },
    })
  }
}
