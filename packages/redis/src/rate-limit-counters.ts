import { StoreUnavailable } from '@tessera/core'
import type { RedisConnection } from './connection.js'
import { KeyNames } from './key-names.js'
import { Scripts } from './scripts.js'

/** One fixed window, as {@link RedisRateLimitCounters.hit} counts it. */
export interface RateLimitWindow {
  windowMs: number
  /** Hits allowed per window. */
  max: number
  /** Lockout back-off: each time the limit is reached again, the lockout doubles up to this many ms. 0: off. */
  lockoutCapMs: number
  /** How long reached limits (strikes) are remembered for the back-off, in ms. */
  strikeMemoryMs: number
}

/** A counter as Redis holds it. */
export interface RateLimitCount {
  /** Hits in the current window; 0 when nothing is counted. */
  count: number
  /** Milliseconds until the window (or the lockout) ends, on the Redis server's clock; negative when nothing is counted. */
  ttlMs: number
}

/** The payload `{ count, ttl ms }` of a rate-limit script, or a {@link StoreUnavailable} when it is anything else. */
function countOf(name: string, payload: unknown[]): RateLimitCount {
  const [count, ttlMs] = payload.map(Number)
  if (payload.length !== 2 || !Number.isSafeInteger(count) || !Number.isSafeInteger(ttlMs)) throw new StoreUnavailable(`unexpected reply from ${name}: ${payload.length} values`)
  return { count: count!, ttlMs: ttlMs! }
}

/**
 * Fixed-window counters in Redis, shared by every instance (the auth
 * server's rate limits and lockouts): each hit or read is one script, keys
 * and scripts those of this package. What the counts mean (allowed or not,
 * Retry-After) is the caller's.
 *
 * @example
 * ```ts
 * const counters = new RedisRateLimitCounters(store.connection, { keyPrefix: 'tessera:' })
 * const { count, ttlMs } = await counters.hit('login-ip:203.0.113.7', { windowMs: 60_000, max: 20, lockoutCapMs: 0, strikeMemoryMs: 0 })
 * ```
 */
export class RedisRateLimitCounters {
  readonly #connection: RedisConnection
  readonly #keys: KeyNames
  readonly #scripts = new Scripts()

  /** The connection stays the caller's. */
  constructor(connection: RedisConnection, options: { keyPrefix?: string } = {}) {
    this.#connection = connection
    this.#keys = new KeyNames(options.keyPrefix ?? 'tessera:')
  }

  /** Counts one hit of `key` and returns the window's count and remaining time. */
  async hit(key: string, window: RateLimitWindow): Promise<RateLimitCount> {
    const { counter, strikes } = this.#keys.rateLimit(key)
    const { payload } = await this.#scripts.call(this.#connection, 'rateLimitHit', [counter, strikes], {
      windowMs: window.windowMs,
      max: window.max,
      lockoutCapMs: window.lockoutCapMs,
      strikeMemoryMs: window.strikeMemoryMs,
    })
    return countOf('rateLimitHit', payload)
  }

  /** The count and remaining time of `key`'s window, without counting a hit. */
  async peek(key: string): Promise<RateLimitCount> {
    const { payload } = await this.#scripts.call(this.#connection, 'rateLimitPeek', [this.#keys.rateLimit(key).counter], {})
    return countOf('rateLimitPeek', payload)
  }

  /** Resolves when Redis answers. */
  async ping(): Promise<void> {
    await this.#connection.send(['PING'])
  }
}
