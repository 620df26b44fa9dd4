import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MemoryStore, type SessionStore, SigningKeySet, StoreUnavailable, type Tessera } from '@tessera/core'
import { redisStoreForTest, waitFor } from '../../../../test/support/redis.js'
import { type Verifier } from '../verifier.js'
import { createVerifier } from '../create-verifier.js'
import type { VerifierMode } from '../options.js'
import { AUDIENCE, ISSUER, badTokens, malleate, rejectsWith, tesseraFor } from './fixtures.js'

/** Counts strict checks, so a test can prove cached mode made none. */
function counting(store: SessionStore): SessionStore & { checks: number } {
  const wrapped = Object.create(store) as SessionStore & { checks: number }
  wrapped.checks = 0
  wrapped.checkAccessToken = (request) => {
    wrapped.checks++
    return store.checkAccessToken(request)
  }
  wrapped.readRevocations = (after, options) => store.readRevocations(after, options)
  wrapped.revocationLogInfo = () => store.revocationLogInfo()
  return wrapped
}

describe('verifier against real Redis', () => {
  let keys: SigningKeySet
  let tessera: Tessera
  let store: SessionStore
  let cleanup: () => Promise<void>
  const verifiers: Verifier[] = []

  async function verifierFor(mode: VerifierMode, options: { store?: SessionStore } = {}): Promise<Verifier> {
    const v = await createVerifier({
      mode,
      keys,
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['ES256', 'EdDSA'],
      ...(mode === 'signature' ? {} : { store: options.store ?? store }),
      log: { blockMs: 200, maxStalenessMs: 1000 },
    })
    verifiers.push(v)
    return v
  }

  before(async () => {
    const redis = await redisStoreForTest('verifier')
    store = redis.store
    cleanup = () => redis.cleanup()
    keys = await SigningKeySet.generate({ alg: 'ES256' })
    tessera = await tesseraFor(store, keys)
  })
  after(async () => {
    for (const v of verifiers) await v.close()
    await cleanup()
  })

  for (const mode of ['signature', 'strict', 'cached'] as const) {
    test(`${mode}: accepts a live token and refuses expired, wrong-alg, wrong-aud, unknown-kid, alg none and re-encoded tokens`, async () => {
      const verifier = await verifierFor(mode)
      const { accessToken } = await tessera.createSession({ userId: `u-${mode}` })
      const claims = await verifier.verify(accessToken)
      assert.equal(claims.userId, `u-${mode}`)
      // A cache hit must not change the verdict for bad tokens either: the good token is cached now.
      for (const bad of await badTokens(keys, accessToken)) await rejectsWith(verifier.verify(bad.token), bad.code, `${mode} ${bad.name}`)
      assert.equal((await verifier.verify(accessToken)).tokenId, claims.tokenId)
      assert.ok(verifier.metrics().cacheHits >= 1)
    })
  }

  test("the engine's verifyAccessToken refuses the same tokens with the same codes (one JWS verifier for both)", async () => {
    const { accessToken } = await tessera.createSession({ userId: 'u-engine' })
    assert.equal((await tessera.verifyAccessToken(accessToken, { mode: 'signature' })).userId, 'u-engine')
    // A jku header or an unknown extra header was ignored by jose; the one verifier refuses it everywhere.
    for (const bad of await badTokens(keys, accessToken)) await rejectsWith(tessera.verifyAccessToken(bad.token, { mode: 'signature' }), bad.code, `engine ${bad.name}`)
    await rejectsWith(tessera.verifyAccessToken(malleate(accessToken), { mode: 'signature' }), 'ERR_ACCESS_TOKEN_INVALID')
  })

  for (const mode of ['strict', 'cached'] as const) {
    test(`${mode}: refuses a revoked session's token, the high-S twin of its signature before and after, and a denied token id and a revoked user`, async () => {
      const verifier = await verifierFor(mode)
      const a = await tessera.createSession({ userId: `rev-${mode}` })
      const b = await tessera.createSession({ userId: `rev-${mode}` })
      const c = await tessera.createSession({ userId: `other-${mode}` })
      await verifier.verify(a.accessToken)
      // (r, n - s) verifies mathematically, but only the low-S spelling the issuer makes is a token.
      await rejectsWith(verifier.verify(malleate(a.accessToken)), 'ERR_ACCESS_TOKEN_INVALID')
      await tessera.revokeSession(a.sessionId)
      await waitFor(() => verifier.verify(a.accessToken).then(() => false, () => true), 2000, 2)
      await rejectsWith(verifier.verify(a.accessToken), 'ERR_SESSION_REVOKED')
      await rejectsWith(verifier.verify(malleate(a.accessToken)), 'ERR_ACCESS_TOKEN_INVALID')
      await verifier.verify(b.accessToken)
      await tessera.denyAccessToken(b.accessToken)
      await waitFor(() => verifier.verify(b.accessToken).then(() => false, () => true), 2000, 2)
      await rejectsWith(verifier.verify(b.accessToken), 'ERR_ACCESS_TOKEN_REVOKED')
      const b2 = await tessera.createSession({ userId: `rev-${mode}` })
      await tessera.banUser(`rev-${mode}`)
      await waitFor(() => verifier.verify(b2.accessToken).then(() => false, () => true), 2000, 2)
      await rejectsWith(verifier.verify(b2.accessToken), 'ERR_ACCESS_TOKEN_REVOKED')
      await verifier.verify(c.accessToken)
    })
  }

  test("strict: a store that throws, rejects or refuses fails closed: StoreUnavailable with the cause, or the store's own AuthError", async () => {
    const { accessToken } = await tessera.createSession({ userId: 'u-store-failure' })
    const down = new Error('connection reset')
    const own = new StoreUnavailable('session store did not answer within its 1000 ms command time limit')
    const failing = (fail: () => Promise<never>) => {
      const wrapped = counting(store)
      wrapped.checkAccessToken = fail
      return verifierFor('strict', { store: wrapped })
    }
    for (const [name, verifier] of [
      ['throws', await failing(() => {
        throw down
      })],
      ['rejects', await failing(() => Promise.reject(down))],
    ] as const) {
      await assert.rejects(verifier.verify(accessToken), (err: unknown) => err instanceof StoreUnavailable && err.message === 'session store is unavailable' && err.cause === down, name)
    }
    await assert.rejects((await failing(() => Promise.reject(own))).verify(accessToken), (err: unknown) => err === own)
  })

  test('cached: learns of a revocation from the log without any store read per request', async () => {
    const watched = counting(store)
    const verifier = await verifierFor('cached', { store: watched })
    const { accessToken, sessionId } = await tessera.createSession({ userId: 'quiet' })
    for (let i = 0; i < 100; i++) await verifier.verify(accessToken)
    const revokedAt = Date.now()
    await tessera.revokeSession(sessionId)
    await waitFor(() => verifier.verify(accessToken).then(() => false, () => true), 2000, 1)
    assert.ok(Date.now() - revokedAt < 2000, 'the revocation arrived through the log, well before any staleness fallback')
    assert.equal(watched.checks, 0)
    const m = verifier.metrics()
    assert.equal(m.storeChecks, 0)
    assert.ok(m.revocationSetSize >= 1)
    assert.equal(m.logState, 'live')
    assert.ok(m.cacheHitRatio > 0.9)
  })

  test('cached: loads revocations made before it started before accepting any token', async () => {
    const { accessToken, sessionId } = await tessera.createSession({ userId: 'early' })
    await tessera.revokeSession(sessionId)
    const watched = counting(store)
    const verifier = await verifierFor('cached', { store: watched })
    await rejectsWith(verifier.verify(accessToken), 'ERR_SESSION_REVOKED')
    assert.equal(watched.checks, 0)
  })
})

describe('verifier embedded on the memory store', () => {
  test('cached mode follows the memory store log too', async (t) => {
    const store = new MemoryStore()
    const keys = await SigningKeySet.generate({ alg: 'EdDSA' })
    const tessera = await tesseraFor(store, keys)
    const verifier = await createVerifier({ mode: 'cached', keys, issuer: ISSUER, audience: AUDIENCE, algorithms: ['EdDSA'], store, log: { blockMs: 100, maxStalenessMs: 500 } })
    t.after(async () => {
      await verifier.close()
      await store.close()
    })
    const { accessToken, sessionId } = await tessera.createSession({ userId: 'mem' })
    await verifier.verify(accessToken)
    await tessera.revokeAllSessions('mem')
    await waitFor(() => verifier.verify(accessToken).then(() => false, () => true), 2000, 1)
    await rejectsWith(verifier.verify(accessToken), 'ERR_ACCESS_TOKEN_REVOKED')
    assert.ok(sessionId)
  })

  test('refuses options it cannot honour with a TypeError naming the option', async () => {
    const keys = await SigningKeySet.generate()
    const base = { keys, issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256' as const] }
    await assert.rejects(createVerifier({ ...base, mode: 'strict' }), /"store" or "redis"/)
    await assert.rejects(createVerifier({ ...base, mode: 'fast' as never }), /"mode"/)
    await assert.rejects(createVerifier({ ...base, mode: 'signature', algorithms: ['none' as never] }), /"algorithms"/)
    await assert.rejects(createVerifier({ ...base, mode: 'cached', store: new MemoryStore(), log: { blockMs: 1000, maxStalenessMs: 500 } }), /maxStalenessMs/)
  })

  test('a cached verification ends at exp and when its key is withdrawn', async () => {
    const keys = await SigningKeySet.generate()
    let now = Date.now()
    const clock = { nowMs: () => now }
    const store = new MemoryStore()
    const tessera = await tesseraFor(store, keys)
    const verifier = await createVerifier({ mode: 'signature', keys, issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], clock })
    const { accessToken } = await tessera.createSession({ userId: 'k' })
    await verifier.verify(accessToken)
    await verifier.verify(accessToken)
    assert.equal(verifier.metrics().cacheHits, 1)
    now += 301_000
    await rejectsWith(verifier.verify(accessToken), 'ERR_ACCESS_TOKEN_EXPIRED')
    now -= 301_000
    await verifier.verify(accessToken)
    await keys.rotate({ retireAfterSeconds: 0, nowMs: now - 1 })
    await rejectsWith(verifier.verify(accessToken), 'ERR_ACCESS_TOKEN_INVALID')
    await store.close()
  })
})

describe('verifier metrics', () => {
  test('are published in a prom-client registry at scrape time', async () => {
    const { Registry } = await import('prom-client')
    const { registerVerifierMetrics } = await import('../prometheus.js')
    const store = new MemoryStore()
    const keys = await SigningKeySet.generate()
    const tessera = await tesseraFor(store, keys)
    const verifier = await createVerifier({ mode: 'cached', keys, issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], store, log: { blockMs: 100, maxStalenessMs: 500 } })
    const registry = new Registry()
    registerVerifierMetrics(verifier, registry)
    const { accessToken } = await tessera.createSession({ userId: 'm' })
    await verifier.verify(accessToken)
    await verifier.verify(accessToken)
    const text = await registry.metrics()
    assert.match(text, /tessera_verifier_cache_hit_ratio 0\.5/)
    assert.match(text, /tessera_verifier_cache_hits_total 1/)
    assert.match(text, /tessera_verifier_fallbacks_total 0/)
    assert.match(text, /tessera_verifier_revocation_set_entries 0/)
    await verifier.close()
    await store.close()
  })
})
