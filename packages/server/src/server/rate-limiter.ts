import { LRUCache } from 'lru-cache'
import { HttpProblem } from './http-errors.js'
import type { RedisConnection } from '@tessera/redis'

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

// KEYS[1] counter, KEYS[2] lockout strikes; ARGV[1] window ms, ARGV[2] max, ARGV[3] back-off
// cap ms (0: off), ARGV[4] strike memory ms. Returns {count, ttl ms}. One round trip, and the
// TTL is set with the first hit so a counter can never outlive its window (or its lockout).
const HIT_SCRIPT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
if n == tonumber(ARGV[2]) + 1 and tonumber(ARGV[3]) > 0 then
  local strikes = redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  local lock = math.min(tonumber(ARGV[1]) * 2 ^ (strikes - 1), tonumber(ARGV[3]))
  if lock > ttl then redis.call('PEXPIRE', KEYS[1], math.floor(lock)) ttl = math.floor(lock) end
end
return {n, ttl}`

// KEYS[1] counter. Returns {count, ttl ms}; reads only.
const PEEK_SCRIPT = `return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1])}`

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
    // One hash tag for the counter and its strikes: the script touches one slot on Cluster.
    const redisKey = `${this.#prefix}rl:{${key}}`
    const args = [String(rule.windowSeconds * 1000), String(rule.max), String((rule.backoffMaxSeconds ?? 0) * 1000), String(STRIKE_MEMORY_MS)]
    const reply = (await this.#connection.send(['EVAL', HIT_SCRIPT, '2', redisKey, `${redisKey}:strikes`, ...args], { key: redisKey })) as [number, number]
    const [count, ttlMs] = reply
    return decision(Number(count) <= rule.max, Number(ttlMs))
  }

  async peek(key: string, rule: RateLimitRule): Promise<RateLimitDecision> {
    const redisKey = `${this.#prefix}rl:{${key}}`
    const [count, ttlMs] = (await this.#connection.send(['EVAL', PEEK_SCRIPT, '1', redisKey], { key: redisKey })) as [number, number]
    if (Number(count) === 0 || Number(ttlMs) < 0) return NOTHING_COUNTED
    return decision(Number(count) < rule.max, Number(ttlMs))
  }

  async ping(): Promise<void> {
    await this.#connection.send(['PING'])
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
