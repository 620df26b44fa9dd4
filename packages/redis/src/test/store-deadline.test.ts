// A store call that passes its deadline says which limit passed and how long
// it really waited (on a loaded machine the two differ), instead of only
// "session store is unavailable".
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { DeadlinesByLimit, type RedisConnection, type SendOptions } from '../connection.js'
import { RedisSessionStore } from '../index.js'
import { ReplicationWait } from '../replication-wait.js'
import { SHARED_REDIS_URL, deleteKeys, uniquePrefix } from '../../../../test/support/redis.js'
import { startTcpProxy } from '../../../../test/support/tcp-proxy.js'

/** A store (300 ms command limit) reaching Redis through a proxy the test controls; cleaned up after the test. */
async function storeBehindProxy(t: TestContext, label: string) {
  const target = new URL(SHARED_REDIS_URL)
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) })
  const prefix = uniquePrefix(label)
  const store = await RedisSessionStore.connect({ url: proxy.through(SHARED_REDIS_URL), keyPrefix: prefix, commandTimeoutMs: 300 })
  t.after(async () => {
    // Restored first, so a failure is reported rather than held by a close() that waits for Redis.
    proxy.restore()
    await store.close()
    await proxy.close()
    await deleteKeys(SHARED_REDIS_URL, prefix)
  })
  return { store, proxy }
}


test('a command past its deadline names the limit and the time it waited', async (t) => {
  const { store, proxy } = await storeBehindProxy(t, 'deadline')
  proxy.stall()
  const expected = { code: 'ERR_STORE_UNAVAILABLE', message: /^session store did not answer within its 300 ms command time limit \(commandTimeoutMs; waited \d{3,} ms\)$/ }
  // A plain command and a script, the two paths every store call takes.
  await assert.rejects(store.getUserState('u1', Date.now()), expected)
  await assert.rejects(store.revokeAllSessions({ userId: 'u1', nowMs: Date.now(), reason: 'revoked', revocationTtlMs: 60_000, tokenHorizonMs: 70_000 }), expected)
  // Closing waits for pending replies, but no longer than the command limit: a hung Redis does not hold a shutdown.
  const started = Date.now()
  await store.close()
  assert.ok(Date.now() - started < 10_000, 'close() returns although Redis never answers')
})

test('the DPoP replay mark and the signing key set keep the deadline\'s message too', async (t) => {
  const { store, proxy } = await storeBehindProxy(t, 'deadline-paths')
  proxy.stall()
  const expected = { code: 'ERR_STORE_UNAVAILABLE', message: /^session store did not answer within its 300 ms command time limit \(commandTimeoutMs; waited \d{3,} ms\)$/ }
  await assert.rejects(store.markDpopProofUsed({ proofKey: 'proof', ttlMs: 60_000, nowMs: Date.now() }), expected)
  await assert.rejects(store.readSigningKeys(), expected)
  await assert.rejects(store.signingKeysVersion(), expected)
  await assert.rejects(store.writeSigningKeys({ expectedVersion: 0, document: '{}' }), expected)
})

test('a revocation whose WAIT for replicas passes its deadline says so, naming the WAIT\'s own limit', async () => {
  // A connection whose replies never come, bounded as a real one is: WAIT's limit is durability.timeoutMs + 1 s.
  const deadlines = new DeadlinesByLimit()
  const hung = {
    isCluster: false,
    send: (_args: unknown, options: SendOptions = {}) => deadlines.bound(new Promise(() => {}), options.timeoutMs, undefined, options.timeoutName),
  } as unknown as RedisConnection
  const wait = new ReplicationWait(hung, { replicas: 1, timeoutMs: 50 })
  await assert.rejects(wait.confirm('key', hung), {
    code: 'ERR_STORE_UNAVAILABLE',
    message: /^could not confirm replication of the revocation: session store did not answer within its 1050 ms command time limit \(durability\.timeoutMs \+ 1 s; waited \d{4,} ms\)$/,
  })
})

// CI hang (log-outage.test.ts, 240 s): a verifier's first blocking read opens a
// second connection; opened while Redis was unreachable it waited for Redis to
// return, so the read never failed and close() never returned.
test('a blocking log read whose connection cannot open fails within its limit, and close() does not wait for Redis', async (t) => {
  const { store, proxy } = await storeBehindProxy(t, 'reader')
  proxy.cut()
  const unanswered = Symbol('no answer')
  const within = <T>(p: Promise<T>, ms: number) =>
    Promise.race([p, new Promise<typeof unanswered>((resolve) => setTimeout(resolve, ms, unanswered).unref())])
  // A read's limit is its block time plus a second; 10 s leaves room for a loaded machine, not for "until Redis returns".
  const read = store.readRevocations(null, { blockMs: 100 }).then(() => 'read', (err: { code?: string }) => err.code)
  assert.equal(await within(read, 10_000), 'ERR_STORE_UNAVAILABLE')
  // And once more while a reader is being opened: close() ends it instead of waiting.
  const pending = store.readRevocations(null, { blockMs: 100 }).catch(() => undefined)
  assert.notEqual(await within(store.close(), 10_000), unanswered, 'close() returns while Redis is unreachable')
  await pending
})
