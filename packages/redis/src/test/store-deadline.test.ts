// A store call that passes its deadline says which limit passed and how long
// it really waited (on a loaded machine the two differ), instead of only
// "session store is unavailable".
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RedisSessionStore } from '../index.js'
import { SHARED_REDIS_URL, deleteKeys, uniquePrefix } from '../../../../test/support/redis.js'
import { startTcpProxy } from '../../../../test/support/tcp-proxy.js'

test('a command past its deadline names the limit and the time it waited', async (t) => {
  const target = new URL(SHARED_REDIS_URL)
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) })
  const prefix = uniquePrefix('deadline')
  const store = await RedisSessionStore.connect({ url: proxy.through(SHARED_REDIS_URL), keyPrefix: prefix, commandTimeoutMs: 300 })
  t.after(async () => {
    await store.close()
    await proxy.close()
    await deleteKeys(SHARED_REDIS_URL, prefix)
  })
  proxy.stall()
  const expected = { code: 'ERR_STORE_UNAVAILABLE', message: /^session store did not answer within its 300 ms command time limit \(commandTimeoutMs; waited \d{3,} ms\)$/ }
  // A plain command and a script, the two paths every store call takes.
  await assert.rejects(store.getUserState('u1', Date.now()), expected)
  await assert.rejects(store.revokeAllSessions({ userId: 'u1', nowMs: Date.now(), reason: 'revoked', revocationTtlMs: 60_000 }), expected)
  // Closing waits for pending replies, but no longer than the command limit: a hung Redis does not hold a shutdown.
  const started = Date.now()
  await store.close()
  assert.ok(Date.now() - started < 10_000, 'close() returns although Redis never answers')
})
