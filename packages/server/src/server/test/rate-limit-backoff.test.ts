// Lockout back-off, on both limiters: each lockout of the same key lasts twice
// the one before, up to the cap.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { redisStoreForTest } from '../../../../../test/support/redis.js'
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter, type RateLimitRule } from '../rate-limiter.js'

const RULE: RateLimitRule = { max: 1, windowSeconds: 0.08, backoffMaxSeconds: 0.32 }

/** Hits until the key is locked, then keeps hitting until it is let through again; returns how long the lockout held. */
async function lockoutMs(limiter: RateLimiter, key: string): Promise<number> {
  while ((await limiter.hit(key, RULE)).allowed);
  const lockedAt = performance.now()
  // Polling is the point here: the limiter has no event to await, and each poll is itself a (refused) attempt.
  while (!(await limiter.hit(key, RULE)).allowed) await new Promise((resolve) => setTimeout(resolve, 5))
  return performance.now() - lockedAt
}

async function assertBacksOff(limiter: RateLimiter, key: string): Promise<void> {
  const lockouts = []
  for (let i = 0; i < 4; i++) lockouts.push(await lockoutMs(limiter, key))
  const [first, second, third, fourth] = lockouts as [number, number, number, number]
  assert.ok(first < 80 + 40, `first lockout ${first} ms`)
  assert.ok(second >= 160 - 10 && third >= 320 - 10, `lockouts ${lockouts.map(Math.round).join(', ')} ms`)
  assert.ok(fourth < 320 + 80, `the cap holds: ${Math.round(fourth)} ms`)
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
      while ((await limiter.hit('k', plain)).allowed);
      const lockedAt = performance.now()
      while (!(await limiter.hit('k', plain)).allowed) await new Promise((resolve) => setTimeout(resolve, 5))
      assert.ok(performance.now() - lockedAt < 50 + 40)
    }
  })
})
