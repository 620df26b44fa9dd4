// Lockout back-off, on both limiters: each lockout of the same key lasts twice
// the one before, up to the cap.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { redisStoreForTest } from '../../../../../test/support/redis.js'
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter, type RateLimitRule } from '../rate-limiter.js'

const RULE: RateLimitRule = { max: 1, windowSeconds: 0.08, backoffMaxSeconds: 0.32 }

/**
 * Hits until the key is locked and returns the lockout the limiter set (on its own clock: the refused hit's
 * `retryAfterMs`), after checking it is enforced: refused until let through, and let through no sooner than
 * that long after the locking hit was sent. Only that lower bound is wall-clock, and it holds however late this
 * process runs (CI at load 10-13 measured a 320 ms lockout as 299 ms by timing the wait itself).
 */
async function lockoutMs(limiter: RateLimiter, key: string): Promise<number> {
  let sentAt: number
  let locked
  do {
    sentAt = performance.now()
    locked = await limiter.hit(key, RULE)
  } while (locked.allowed)
  // Polling is the point here: the limiter has no event to await, and each poll is itself a (refused) attempt.
  while (!(await limiter.hit(key, RULE)).allowed) await new Promise((resolve) => setTimeout(resolve, 5))
  const heldMs = performance.now() - sentAt
  assert.ok(heldMs >= locked.retryAfterMs - 2, `let through after ${Math.round(heldMs)} ms of a ${locked.retryAfterMs} ms lockout`)
  return locked.retryAfterMs
}

async function assertBacksOff(limiter: RateLimiter, key: string): Promise<void> {
  const lockouts = []
  for (let i = 0; i < 4; i++) lockouts.push(await lockoutMs(limiter, key))
  const [first, second, third, fourth] = lockouts as [number, number, number, number]
  // The first lockout is what is left of the 80 ms window; then 160, 320 and the 320 ms cap.
  assert.ok(first > 0 && first <= 80, `first lockout ${first} ms`)
  assert.deepEqual([second, third, fourth], [160, 320, 320], `lockouts ${lockouts.join(', ')} ms`)
}

describe('lockout back-off', () => {
  let cleanup: () => Promise<void>
  let redis: RedisRateLimiter
  before(async () => {
    const made = await redisStoreForTest('backoff')
    redis = new RedisRateLimiter(made.store.connection, made.prefix)
    cleanup = () => made.cleanup()
  })
  after(() => cleanup())

  test('memory limiter: each lockout doubles, up to the cap', async () => {
    await assertBacksOff(new MemoryRateLimiter(), 'login-account:a')
  })
  test('Redis limiter: each lockout doubles, up to the cap', async () => {
    await assertBacksOff(redis, 'login-account:a')
  })
  test('without back-off the lockout stays one window', async () => {
    const limiter = new MemoryRateLimiter()
    const plain = { max: 1, windowSeconds: 0.05 }
    for (let i = 0; i < 3; i++) {
      let refused
      do refused = await limiter.hit('k', plain)
      while (refused.allowed)
      assert.ok(refused.retryAfterMs <= 50, `lockout ${refused.retryAfterMs} ms`)
      while (!(await limiter.hit('k', plain)).allowed) await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })
})
