import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { HttpProblem } from './http-errors.js'
import type { RedisConnection } from '../redis-store/connection.js'

/** One limit: at most `max` hits per `windowSeconds`. */
export interface RateLimitRule {
  max: number
  windowSeconds: number
}

/** Result of counting one hit. */
export interface RateLimitDecision {
  allowed: boolean
  /** Seconds until the window resets (for Retry-After). */
  retryAfterSeconds: number
}

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
  ping(): Promise<void>
}

/** Counters in process memory (single instance, the embedded default). */
export class MemoryRateLimiter implements RateLimiter {
  readonly kind = 'memory'
  // Bounded, so a flood of distinct keys (spoofed emails) cannot exhaust memory.
  readonly #windows = new LRUCache<string, { count: number; resetAtMs: number }>({ max: 100_000 })

  async hit(key: string, rule: RateLimitRule): Promise<RateLimitDecision> {
    const nowMs = Date.now()
    let window = this.#windows.get(key)
    if (!window || window.resetAtMs <= nowMs) {
      window = { count: 0, resetAtMs: nowMs + rule.windowSeconds * 1000 }
      this.#windows.set(key, window)
    }
    window.count += 1
    return { allowed: window.count <= rule.max, retryAfterSeconds: Math.max(1, Math.ceil((window.resetAtMs - nowMs) / 1000)) }
  }

  async ping(): Promise<void> {}
}

// KEYS[1] counter; ARGV[1] window ms. Returns {count, ttl ms}. One round trip, and the
// TTL is set with the first hit so a counter can never outlive its window.
const HIT_SCRIPT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
return {n, ttl}`

/** Counters in Redis, shared by every instance. */
export class RedisRateLimiter implements RateLimiter {
  readonly kind = 'redis'
  readonly #connection: RedisConnection
  readonly #prefix: string

  constructor(connection: RedisConnection, keyPrefix: string) {
    this.#connection = connection
    this.#prefix = keyPrefix
  }

  async hit(key: string, rule: RateLimitRule): Promise<RateLimitDecision> {
    const redisKey = `${this.#prefix}rl:${key}`
    const reply = (await this.#connection.send(['EVAL', HIT_SCRIPT, '1', redisKey, String(rule.windowSeconds * 1000)], { key: redisKey })) as [number, number]
    const [count, ttlMs] = reply
    return { allowed: Number(count) <= rule.max, retryAfterSeconds: Math.max(1, Math.ceil(Number(ttlMs) / 1000)) }
  }

  async ping(): Promise<void> {
    await this.#connection.send(['PING'])
  }
}

/** Rate-limit key part for an account: a hash, so limiter keys never hold an email. */
export function accountKey(email: string): string {
  return createHash('sha256').update(email).digest('base64url').slice(0, 22)
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
