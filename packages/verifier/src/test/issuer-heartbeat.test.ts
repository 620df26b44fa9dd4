// Issue 11 section 2, the wrong log: a cached verifier must tell that the log
// it follows is written by a live issuer of its `iss`, and refuse to serve
// (503) otherwise, saying why.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { createTessera, manualClock, MemoryStore, SigningKeySet } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { SHARED_REDIS_URL, deleteKeys, redisStoreForTest, waitFor } from '../../../../test/support/redis.js'
import { problemFor } from '../http-problem.js'
import { RevocationLogSilent } from '../verifier.js'
import { createVerifier } from '../create-verifier.js'
import { AUDIENCE, ISSUER, rejectsWith } from './fixtures.js'

describe('a cached verifier on a log no live issuer writes answers 503', () => {
  test('a mistyped key prefix: every request is 503 with a clear problem, and the warning says why', async (t) => {
    const redis = await redisStoreForTest('beat')
    const keys = await SigningKeySet.generate({ alg: 'ES256' })
    const auth = await createTessera({ store: redis.store, keys, issuer: ISSUER, audience: AUDIENCE, tokenKey: randomBytes(32) })
    const typo = `${redis.prefix.slice(0, -1)}x:`
    const warnings: string[] = []
    const verifier = await createVerifier({
      mode: 'cached',
      keys,
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['ES256'],
      redis: { url: SHARED_REDIS_URL, keyPrefix: typo },
      onWarning: (m) => warnings.push(m),
    })
    t.after(async () => {
      await verifier.close()
      await auth.close()
      await redis.cleanup()
      await deleteKeys(SHARED_REDIS_URL, typo)
    })
    const login = await auth.createSession({ userId: 'typo' })
    await auth.revokeSession(login.sessionId)
    const live = await auth.createSession({ userId: 'typo-live' })
    for (const token of [login.accessToken, live.accessToken]) {
      const err = await verifier.verify(token).then(() => null, (e: unknown) => e)
      assert.ok(err instanceof RevocationLogSilent, `refused as silent, got ${String(err)}`)
      assert.equal(err.code, 'ERR_STORE_UNAVAILABLE')
      const problem = problemFor(err)
      assert.equal(problem.status, 503)
      assert.equal(problem.body.detail, 'no live issuer writes the revocation log this verifier follows; try again shortly')
      assert.doesNotMatch(JSON.stringify(problem), new RegExp(typo))
    }
    assert.equal(warnings.length, 1)
    assert.match(warnings[0]!, /refuses every request \(503\): the revocation log it follows has no heartbeat of issuer "https:\/\/auth.test"; check the key prefix/)
    const m = verifier.metrics()
    assert.equal(m.issuerLive, false)
    assert.equal(m.timeSinceIssuerHeartbeatMs, null)
    assert.equal(m.issuerSilentRefusals, 2)
    assert.equal(m.storeChecks, 0)
  })

  test('a log written by another issuer: 503, and the warning names the issuer found there', async (t) => {
    const redis = await redisStoreForTest('beat-other')
    const keys = await SigningKeySet.generate({ alg: 'ES256' })
    const other = await createTessera({ store: redis.store, keys, issuer: 'https://other.test', audience: AUDIENCE, tokenKey: randomBytes(32) })
    const warnings: string[] = []
    const verifier = await createVerifier({ mode: 'cached', keys, issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], store: redis.store, onWarning: (m) => warnings.push(m) })
    t.after(async () => {
      await verifier.close()
      await other.close()
      await redis.cleanup()
    })
    const mine = await createTessera({ store: new MemoryStore(), keys, issuer: ISSUER, audience: AUDIENCE, heartbeatIntervalMs: 0 })
    const { accessToken } = await mine.createSession({ userId: 'x' })
    await rejectsWith(verifier.verify(accessToken), 'ERR_STORE_UNAVAILABLE')
    assert.match(warnings[0]!, /heartbeats of "https:\/\/other.test" are there instead/)
  })

  test('an issuer silent beyond the bound stops the verifier; its next heartbeat brings it back (memory store, one process)', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const clock = manualClock(Date.now())
    const store = new MemoryStore()
    const keys = await SigningKeySet.generate({ alg: 'ES256' })
    const auth = await createTessera({ store, keys, clock, issuer: ISSUER, audience: AUDIENCE })
    const warnings: string[] = []
    const verifier = await createVerifier({
      mode: 'cached',
      keys,
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['ES256'],
      store,
      clock,
      log: { blockMs: 20, maxStalenessMs: 60 * 60_000, issuerSilenceMs: 15_000 },
      onWarning: (m) => warnings.push(m),
    })
    t.after(async () => {
      await verifier.close()
      await auth.close()
      await store.close()
    })
    const { accessToken } = await auth.createSession({ userId: 'quiet' })
    await verifier.verify(accessToken)
    clock.advance(15_001)
    await rejectsWith(verifier.verify(accessToken), 'ERR_STORE_UNAVAILABLE')
    assert.match(warnings.at(-1)!, /has had no heartbeat for 15001 ms from issuer/)
    // The engine's next beat (every 5 s) is in the log within a read.
    t.mock.timers.tick(5000)
    await waitFor(() => verifier.metrics().issuerLive === true, 2000, 2)
    assert.equal((await verifier.verify(accessToken)).userId, 'quiet')
    assert.match(warnings.at(-1)!, /serves again/)
  })

  test('an engine writes its heartbeat at start with its limits, on the memory store and on Redis', async (t) => {
    const redis = await redisStoreForTest('beat-start')
    t.after(() => redis.cleanup())
    for (const store of [new MemoryStore(), redis.store]) {
      const auth = await createTessera({ store, issuer: ISSUER, tokenKey: randomBytes(32), accessTokenTtlSeconds: 120, clockToleranceSeconds: 5, refreshGraceSeconds: 3 })
      const read = await store.readRevocations(null)
      await auth.close()
      assert.equal(read.heartbeats.length, 1)
      assert.deepEqual({ ...read.heartbeats[0]!, position: 'p', atMs: 0 }, {
        position: 'p',
        atMs: 0,
        issuer: ISSUER,
        accessTokenTtlSeconds: 120,
        clockToleranceSeconds: 5,
        refreshGraceSeconds: 3,
        version: 2,
      })
      assert.equal(read.lastPosition, read.heartbeats[0]!.position)
      if (store instanceof MemoryStore) await store.close()
    }
    assert.ok(redis.store instanceof RedisSessionStore)
  })
})
