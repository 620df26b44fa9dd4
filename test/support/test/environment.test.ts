// The test environment (README, "Test environment"): the database number of
// TESSERA_TEST_REDIS_URL reaches every client, proxied ones included, and
// every key a test writes sits under a prefix that no deployment uses.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createClient } from 'redis'
import { SHARED_REDIS_URL, TEST_KEY_PREFIX, uniquePrefix } from '../redis.js'
import { startTcpProxy } from '../tcp-proxy.js'

test('test keys live under tessera-test:, never under the server default tessera:', () => {
  assert.equal(TEST_KEY_PREFIX, process.env.TESSERA_TEST_KEY_PREFIX ?? 'tessera-test:')
  assert.ok(uniquePrefix('x').startsWith(`${TEST_KEY_PREFIX}x:`))
  assert.ok(!uniquePrefix().startsWith('tessera:'))
})

test('a proxied URL keeps the user, password and database number of the target', async (t) => {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: 1 })
  t.after(() => proxy.close())
  assert.equal(proxy.through('redis://app:s3cret@127.0.0.1:6379/5'), `redis://app:s3cret@127.0.0.1:${proxy.port}/5`)
  assert.equal(proxy.through('postgres://postgres@db.example:5432/test?sslmode=disable'), `postgres://postgres@127.0.0.1:${proxy.port}/test?sslmode=disable`)
})

test('a client through the proxy writes to the database the test URL names', async (t) => {
  const target = new URL(SHARED_REDIS_URL)
  const otherDb = new URL(SHARED_REDIS_URL)
  otherDb.pathname = `/${(Number(target.pathname.slice(1) || 0) + 1) % 16}`
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) })
  const key = `${uniquePrefix('env')}probe`
  const viaProxy = createClient({ url: proxy.through(otherDb.toString()) })
  const direct = createClient({ url: otherDb.toString() })
  await Promise.all([viaProxy.connect(), direct.connect()])
  t.after(async () => {
    await direct.del(key)
    await Promise.all([viaProxy.close(), direct.close()])
    await proxy.close()
  })
  await viaProxy.set(key, '1', { EX: 60 })
  assert.equal(await direct.get(key), '1')
})
