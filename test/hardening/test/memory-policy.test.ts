import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { assertMemoryPolicy, checkMemoryPolicy, type RedisArg, type RedisConnection, REQUIRED_MAXMEMORY_POLICY, UnsafeMemoryPolicy } from '@tessera/redis'
import { NodeRedisConnection } from '../../../packages/redis/src/connection.js'
import { startPrivateRedis, type PrivateRedis } from '../../support/redis.js'

let redis: PrivateRedis
let admin: NodeRedisConnection
before(async () => {
  redis = await startPrivateRedis(['--maxmemory-policy', 'noeviction'])
  admin = await NodeRedisConnection.open({ url: redis.url })
})
after(async () => {
  await admin?.close()
  await redis?.stop()
})

/** A connection that answers from a table, to reach the reply shapes and failures a real server rarely gives. */
function fakeConnection(answer: (args: RedisArg[]) => unknown): RedisConnection {
  return {
    isCluster: false,
    send: async (args) => answer(args),
    duplicate: async () => fakeConnection(answer),
    close: async () => {},
  }
}

void test('accepts a Redis running noeviction, read with CONFIG GET', async () => {
  const report = await assertMemoryPolicy(admin)
  assert.deepEqual(report, { policy: REQUIRED_MAXMEMORY_POLICY, source: 'config', ok: true })
})

void test('refuses every evicting policy, volatile ones included, with ERR_REDIS_EVICTION_POLICY', async (t) => {
  t.after(() => admin.send(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']))
  for (const policy of ['allkeys-lru', 'volatile-lru', 'volatile-ttl', 'allkeys-random']) {
    await admin.send(['CONFIG', 'SET', 'maxmemory-policy', policy])
    assert.deepEqual(await checkMemoryPolicy(admin), { policy, source: 'config', ok: false })
    await assert.rejects(assertMemoryPolicy(admin), (err: unknown) => {
      assert.ok(err instanceof UnsafeMemoryPolicy)
      assert.equal(err.code, 'ERR_REDIS_EVICTION_POLICY')
      assert.equal(err.policy, policy)
      assert.match(err.message, /requires "noeviction"/)
      return true
    })
  }
})

void test('falls back to INFO memory when an ACL forbids CONFIG', async (t) => {
  await admin.send(['ACL', 'SETUSER', 'limited', 'on', '>limited-pass', '~*', '+@all', '-config'])
  const limited = await NodeRedisConnection.open({ url: `redis://limited:limited-pass@127.0.0.1:${redis.port}` })
  t.after(() => limited.close())
  await assert.rejects(limited.send(['CONFIG', 'GET', 'maxmemory-policy']), /NOPERM/)
  assert.deepEqual(await assertMemoryPolicy(limited), { policy: 'noeviction', source: 'info', ok: true })
  await admin.send(['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru'])
  t.after(() => admin.send(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']))
  await assert.rejects(assertMemoryPolicy(limited), { code: 'ERR_REDIS_EVICTION_POLICY', policy: 'allkeys-lru' })
})

void test('reads the RESP3 map shape of CONFIG GET', async () => {
  const connection = fakeConnection(() => new Map([['maxmemory-policy', 'noeviction']]))
  assert.deepEqual(await checkMemoryPolicy(connection), { policy: 'noeviction', source: 'config', ok: true })
})

void test('fails closed when neither CONFIG nor INFO can be read', async () => {
  const connection = fakeConnection(() => {
    throw new Error('NOPERM this user has no permissions')
  })
  await assert.rejects(assertMemoryPolicy(connection), { code: 'ERR_REDIS_EVICTION_POLICY', policy: null })
})
