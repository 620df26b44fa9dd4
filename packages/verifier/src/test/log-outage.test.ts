import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createClient } from 'redis'
import { SigningKeySet, type Tessera } from '@tessera/core'
import type { RedisSessionStore } from '@tessera/redis'
import { SHARED_REDIS_URL, redisStoreForTest, waitFor } from '../../../../test/support/redis.js'
import { startTcpProxy, type TcpProxy } from '../../../../test/support/tcp-proxy.js'
import { type Verifier } from '../verifier.js'
import { createVerifier } from '../create-verifier.js'
import { AUDIENCE, ISSUER, rejectsWith, tesseraFor } from './fixtures.js'

const refused = (v: Verifier, token: string) => () => v.verify(token).then(() => false, () => true)

describe('cached mode when the link to Redis breaks', () => {
  let keys: SigningKeySet
  let tessera: Tessera
  let store: RedisSessionStore
  let prefix: string
  let cleanup: () => Promise<void>
  let proxy: TcpProxy

  before(async () => {
    const redis = await redisStoreForTest('outage')
    ;({ store, prefix } = redis)
    cleanup = () => redis.cleanup()
    keys = await SigningKeySet.generate()
    tessera = await tesseraFor(store, keys)
    const target = new URL(SHARED_REDIS_URL)
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) })
  })
  after(async () => {
    await proxy.close()
    await cleanup()
  })

  async function cutOffVerifier(onStale: 'strict' | 'fail'): Promise<Verifier> {
    return createVerifier({
      mode: 'cached',
      keys,
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['ES256'],
      redis: { url: proxy.through(SHARED_REDIS_URL), keyPrefix: prefix, commandTimeoutMs: 300 },
      log: { blockMs: 150, maxStalenessMs: 400, retryMs: 30 },
      onStale,
    })
  }

  for (const onStale of ['strict', 'fail'] as const) {
    test(`honours a revocation made while cut off, and answers unavailable beyond the bound (onStale: ${onStale})`, async (t) => {
      proxy.restore()
      const verifier = await cutOffVerifier(onStale)
      t.after(() => verifier.close())
      const live = await tessera.createSession({ userId: `live-${onStale}` })
      const doomed = await tessera.createSession({ userId: `doomed-${onStale}` })
      await verifier.verify(live.accessToken)
      await verifier.verify(doomed.accessToken)

      proxy.cut()
      await tessera.revokeSession(doomed.sessionId)
      // Beyond the staleness bound neither token may pass: the set cannot be trusted and strict cannot reach Redis.
      await waitFor(() => verifier.metrics().timeSinceLastLogContactMs! > 400, 3000)
      await rejectsWith(verifier.verify(live.accessToken), 'ERR_STORE_UNAVAILABLE')
      await rejectsWith(verifier.verify(doomed.accessToken), 'ERR_STORE_UNAVAILABLE')
      assert.ok(verifier.metrics().fallbacks >= 1)
      // A read that was opening its connection at the cut fails at its own limit (block time + 1 s), maybe later than the bound.
      await waitFor(() => verifier.metrics().logReadErrors >= 1, 5000)
      // As configured: `strict` tried the store for each request, `fail` refused without trying.
      if (onStale === 'strict') assert.equal(verifier.metrics().storeChecks, 2)
      else assert.equal(verifier.metrics().storeChecks, 0)

      proxy.restore()
      await waitFor(() => verifier.metrics().logState === 'live' && verifier.metrics().timeSinceLastLogContactMs! < 400, 5000)
      await rejectsWith(verifier.verify(doomed.accessToken), 'ERR_SESSION_REVOKED')
      const checksBefore = verifier.metrics().storeChecks
      assert.equal((await verifier.verify(live.accessToken)).userId, `live-${onStale}`)
      assert.equal(verifier.metrics().storeChecks, checksBefore, 'back on the cached set, not strict')
    })
  }

  test('cut off before its follower opened its reading connection: reads fail and count, close() returns', async () => {
    proxy.restore()
    const verifier = await cutOffVerifier('fail')
    // At once, while the follower's first blocking read is still opening its connection.
    proxy.cut()
    await waitFor(() => verifier.metrics().logReadErrors >= 1, 5000)
    const closed = await Promise.race([verifier.close().then(() => true), new Promise<false>((resolve) => setTimeout(resolve, 10_000, false).unref())])
    assert.ok(closed, 'close() returned while Redis was unreachable')
  })

  test('strict mode answers unavailable within its time limit when Redis hangs or is gone, and recovers by itself', async (t) => {
    proxy.restore()
    const verifier = await createVerifier({
      mode: 'strict',
      keys,
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['ES256'],
      redis: { url: proxy.through(SHARED_REDIS_URL), keyPrefix: prefix, commandTimeoutMs: 200 },
    })
    t.after(() => verifier.close())
    const { accessToken } = await tessera.createSession({ userId: 'strict-hang' })
    await verifier.verify(accessToken)
    proxy.stall()
    const started = Date.now()
    await rejectsWith(verifier.verify(accessToken), 'ERR_STORE_UNAVAILABLE')
    const waited = Date.now() - started
    assert.ok(waited >= 150 && waited < 1000, `answered after ${waited} ms`)
    proxy.cut()
    await rejectsWith(verifier.verify(accessToken), 'ERR_STORE_UNAVAILABLE')
    proxy.restore()
    await waitFor(() => verifier.verify(accessToken).then(() => true, () => false), 5000)
  })

  test('falls back to strict when the log was trimmed past its position', async (t) => {
    proxy.restore()
    const verifier = await cutOffVerifier('strict')
    t.after(() => verifier.close())
    const live = await tessera.createSession({ userId: 'trim-live' })
    const doomed = await tessera.createSession({ userId: 'trim-doomed' })
    await tessera.revokeSession((await tessera.createSession({ userId: 'trim-seen' })).sessionId)
    await waitFor(() => verifier.metrics().revocationSetSize >= 1, 2000)

    proxy.cut()
    await tessera.revokeSession(doomed.sessionId)
    const direct = createClient({ url: SHARED_REDIS_URL })
    await direct.connect()
    try {
      // Someone trims away the entry this verifier has not read yet.
      await direct.sendCommand(['XTRIM', store.revocationLogKey, 'MAXLEN', '0'])
    } finally {
      await direct.close()
    }
    proxy.restore()
    await waitFor(() => verifier.metrics().logGaps >= 1, 5000)
    await rejectsWith(verifier.verify(doomed.accessToken), 'ERR_SESSION_REVOKED')
    const before = verifier.metrics().storeChecks
    await verifier.verify(live.accessToken)
    assert.equal(verifier.metrics().storeChecks, before + 1, 'each request is checked in the store after a gap')
    await waitFor(refused(verifier, doomed.accessToken), 100)
  })
})
