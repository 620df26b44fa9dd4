// RedisSessionStore.diagnostics (what `tessera stats` shows) on a private Redis, so every key count is exact:
// the store lives in database 3, another application in database 5.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createClient } from 'redis'
import { createTessera, type Tessera } from '@tessera/core'
import { startPrivateRedis, type PrivateRedis } from '../../../../test/support/redis.js'
import { RedisSessionStore } from '../index.js'

describe('RedisSessionStore.diagnostics', () => {
  let redis: PrivateRedis
  let store: RedisSessionStore
  let auth: Tessera

  before(async () => {
    redis = await startPrivateRedis()
    store = await RedisSessionStore.connect({ url: `${redis.url}/3`, keyPrefix: 'diag:' })
    auth = await createTessera({ store, tokenKey: 'diagnostics-test-token-key-of-32-bytes', heartbeatIntervalMs: 0 })
    // Another application's data in another database: never counted.
    const other = createClient({ url: `${redis.url}/5` })
    await other.connect()
    await other.mSet({ 'app:a': '1', 'app:b': '2', 'app:c': '3' })
    await other.close()
  })
  after(async () => {
    await auth.close()
    await store.close()
    await redis.stop()
  })

  test('counts the keys of its own database only, and reports memory and the prefix', async () => {
    await auth.createSession({ userId: 'u-count' })
    const d = await store.diagnostics()
    assert.equal(d.keyPrefix, 'diag:')
    assert.equal(store.keyPrefix, 'diag:')
    assert.ok(d.memory.usedBytes > 0 && d.memory.usedHuman.length > 0)
    // Database 3 holds exactly what the store wrote: the user's hash (with a TTL), the signing keys are not
    // shared here, and no log entry yet (no revocation, no heartbeat).
    const client = createClient({ url: `${redis.url}/3` })
    await client.connect()
    const [keys, ttl] = [await client.dbSize(), (await Promise.all((await client.keys('*')).map((k) => client.pTTL(k)))).filter((t) => t > 0).length]
    await client.close()
    assert.deepEqual(d.database, { name: 'db3', keys, expires: ttl })
    assert.ok(keys >= 1)
  })

  test('samples the users of the newest revocation-log entries, or the users named, with the bytes of each one\'s key', async () => {
    for (let i = 0; i < 3; i++) await auth.createSession({ userId: 'u-live' })
    const ended = await auth.createSession({ userId: 'u-revoked' })
    await auth.revokeSession(ended.sessionId)
    await auth.banUser('u-banned')

    const recent = await store.diagnostics()
    assert.deepEqual(recent.users.map((u) => u.userId), ['u-banned', 'u-revoked'], 'newest first, each once, heartbeats and other kinds aside')

    const named = await store.diagnostics({ users: ['u-live', 'u-nobody'] })
    const [live, nobody] = named.users
    assert.equal(live?.userId, 'u-live')
    assert.ok(live.keyBytes > 100 && live.keyBytes < 4000, String(live.keyBytes))
    assert.deepEqual(nobody, { userId: 'u-nobody', keyBytes: 0 })
    assert.equal((await store.diagnostics({ users: ['a', 'b', 'c'], maxUsers: 2 })).users.length, 2)
  })

  test('a store that cannot reach Redis says so as ERR_STORE_UNAVAILABLE', async () => {
    const down = await startPrivateRedis()
    const lost = await RedisSessionStore.connect({ url: down.url, keyPrefix: 'diag:', commandTimeoutMs: 500, client: { socket: { reconnectStrategy: false } } })
    try {
      await down.stop()
      await assert.rejects(lost.diagnostics({ users: ['u'] }), { code: 'ERR_STORE_UNAVAILABLE' })
    } finally {
      await lost.close()
    }
  })
})
