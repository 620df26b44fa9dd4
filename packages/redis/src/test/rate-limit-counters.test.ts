// The rate-limit counters run their scripts through the descriptors (rateLimitHit-2.lua,
// rateLimitPeek-1.lua) on keys that key-names.ts builds; a reply code or payload the
// descriptor does not describe is an error, never a count.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { StoreUnavailable } from '@tessera/core'
import { redisStoreForTest } from '../../../../test/support/redis.js'
import type { RedisConnection } from '../connection.js'
import { KeyNames } from '../key-names.js'
import { RedisRateLimitCounters } from '../rate-limit-counters.js'

const WINDOW = { windowMs: 60_000, max: 2, lockoutCapMs: 0, strikeMemoryMs: 0 }

describe('RedisRateLimitCounters', () => {
  let made: Awaited<ReturnType<typeof redisStoreForTest>>
  let counters: RedisRateLimitCounters
  before(async () => {
    made = await redisStoreForTest('rate-limit')
    counters = new RedisRateLimitCounters(made.store.connection, { keyPrefix: made.prefix })
  })
  after(async () => made.cleanup())

  test('a hit counts in its window, under the key name of key-names.ts; a peek reads without counting', async () => {
    assert.deepEqual(await counters.peek('login-ip:198.51.100.1'), { count: 0, ttlMs: -2 })
    const first = await counters.hit('login-ip:198.51.100.1', WINDOW)
    assert.equal(first.count, 1)
    assert.ok(first.ttlMs > 0 && first.ttlMs <= 60_000, `ttl ${first.ttlMs}`)
    assert.equal((await counters.hit('login-ip:198.51.100.1', WINDOW)).count, 2)
    const peeked = await counters.peek('login-ip:198.51.100.1')
    assert.equal(peeked.count, 2)
    assert.ok(peeked.ttlMs > 0 && peeked.ttlMs <= 60_000)
    const { counter } = new KeyNames(made.prefix).rateLimit('login-ip:198.51.100.1')
    assert.equal(counter, `${made.prefix}rl:{login-ip:198.51.100.1}`)
    assert.equal(await made.store.connection.send(['GET', counter], { key: counter }), '2')
  })

  test('with back-off, the hit that goes over the limit adds a strike and the lockout covers the cap', async () => {
    const backoff = { windowMs: 1000, max: 1, lockoutCapMs: 30_000, strikeMemoryMs: 60_000 }
    await counters.hit('login-account:b', backoff)
    const over = await counters.hit('login-account:b', backoff)
    assert.equal(over.count, 2)
    const { strikes } = new KeyNames(made.prefix).rateLimit('login-account:b')
    assert.equal(await made.store.connection.send(['GET', strikes], { key: strikes }), '1')
    assert.ok(over.ttlMs <= 1000, `first lockout is the window: ${over.ttlMs}`)
  })

  test('a reply code or payload the descriptor does not describe is ERR_STORE_UNAVAILABLE', async () => {
    const answering = (reply: unknown): RedisConnection => ({
      isCluster: false,
      send: async (args) => (String(args[0]).startsWith('EVAL') ? reply : made.store.connection.send(args)),
      duplicate: () => made.store.connection.duplicate(),
      close: async () => {},
    })
    for (const reply of [[-99, [], []], [1, [1], []], [1, ['x', 5], []]]) {
      const odd = new RedisRateLimitCounters(answering(reply), { keyPrefix: made.prefix })
      await assert.rejects(odd.hit('k', WINDOW), StoreUnavailable, JSON.stringify(reply))
      await assert.rejects(odd.peek('k'), StoreUnavailable, JSON.stringify(reply))
    }
  })
})
