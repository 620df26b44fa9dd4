// Measures what a live session costs in Redis memory (MEMORY USAGE and
// used_memory on a private server), the figure docs/operations.md plans with.
import { strict as assert } from 'node:assert'
import { test } from 'node:test'
import { createTessera, SigningKeySet } from '@tessera/core'
import { startPrivateRedis } from '../../../../../test/support/redis.js'
import { command } from '../../../../../test/support/redis-topology.js'
import { RedisSessionStore } from '../../index.js'
import { KeyNames } from '../../key-names.js'

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
const USERS = 2000

function usedMemory(info: unknown): number {
  return Number(/used_memory:(\d+)/.exec(String(info))![1])
}

void test('a live session costs a bounded, measured amount of Redis memory', async (t) => {
  const redis = await startPrivateRedis()
  t.after(() => redis.stop())
  const store = await RedisSessionStore.connect({ url: redis.url, keyPrefix: 'tessera:' })
  t.after(() => store.close())
  const auth = await createTessera({ store, keys: await SigningKeySet.generate(), tokenKey: 'memory-test-token-key-of-32-bytes!!!' })

  const before = usedMemory(await command(redis.port, ['INFO', 'memory']))
  for (let i = 0; i < USERS; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => auth.createSession({ userId: `user-${1_000_000 + i + j}`, device: { userAgent: CHROME, ip: '203.0.113.7', name: 'Work laptop' } })))
  }
  const oneSession = Number(await command(redis.port, ['MEMORY', 'USAGE', new KeyNames(store.keyPrefix).user('user-1000000'), 'SAMPLES', '0']))
  const afterOne = usedMemory(await command(redis.port, ['INFO', 'memory']))
  // Two more sessions for the first 500 users: the marginal cost of a session in an existing hash.
  const threeBefore = Number(await command(redis.port, ['MEMORY', 'USAGE', new KeyNames(store.keyPrefix).user('user-1000001'), 'SAMPLES', '0']))
  for (let i = 0; i < 500; i++) {
    await auth.createSession({ userId: `user-${1_000_000 + i}`, device: { userAgent: CHROME } })
    await auth.createSession({ userId: `user-${1_000_000 + i}`, device: { userAgent: CHROME } })
  }
  const threeSessions = Number(await command(redis.port, ['MEMORY', 'USAGE', new KeyNames(store.keyPrefix).user('user-1000001'), 'SAMPLES', '0']))

  // The revocation log: bytes per entry.
  const logBefore = usedMemory(await command(redis.port, ['INFO', 'memory']))
  for (let i = 0; i < 1000; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => auth.revokeAllSessions(`user-${1_000_000 + 500 + i + j}`)))
  }
  const logBytes = Number(await command(redis.port, ['MEMORY', 'USAGE', store.revocationLogKey, 'SAMPLES', '0']))
  const logDelta = usedMemory(await command(redis.port, ['INFO', 'memory'])) - logBefore

  const perUser = (afterOne - before) / USERS
  t.diagnostic(`one-session user: MEMORY USAGE ${oneSession} B, used_memory ${perUser.toFixed(0)} B per user (key, expiry, allocator overhead)`)
  t.diagnostic(`three-session user: MEMORY USAGE ${threeSessions} B (was ${threeBefore} B with one): ${((threeSessions - threeBefore) / 2).toFixed(0)} B per extra session`)
  t.diagnostic(`revocation log: ${(logBytes / 1000).toFixed(0)} B per entry by MEMORY USAGE, used_memory +${(logDelta / 1000).toFixed(0)} B per revoke-all (entry plus the user hash's cut-off field)`)
  // Bounds that catch a layout regression (e.g. a hash leaving listpack encoding).
  assert.ok(oneSession < 512, `one session takes ${oneSession} B`)
  assert.ok(perUser < 640, `a user with one session takes ${perUser} B`)
  assert.equal(await command(redis.port, ['OBJECT', 'ENCODING', new KeyNames(store.keyPrefix).user('user-1000001')]), 'listpack')
})
