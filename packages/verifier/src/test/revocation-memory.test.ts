// Issue 11 section 2: a cached verifier must never forget a revocation while a
// token it covers can still pass. Clocks are injected; the verifier's sweep
// (and the engines' heartbeats) run on mocked setInterval, ticked by hand.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test, type TestContext } from 'node:test'
import { type AuthOptions, createTessera, issueAccessToken, manualClock, MemoryStore, newTokenId, SigningKeySet, type Tessera } from '@tessera/core'
import { waitFor } from '../../../../test/support/redis.js'
import type { VerifierOptions } from '../options.js'
import { RevocationSet } from '../revocation-set.js'
import { type Verifier } from '../verifier.js'
import { createVerifier } from '../create-verifier.js'
import { AUDIENCE, ISSUER, rejectsWith } from './fixtures.js'

const SWEEP_EVERY_MS = 5000
const MINUTE = 60_000

interface Rig {
  clock: ReturnType<typeof manualClock>
  store: MemoryStore
  keys: SigningKeySet
  engine(options?: AuthOptions): Promise<Tessera>
  verifier(options?: Partial<VerifierOptions>): Promise<Verifier>
  /** Moves every clock on, runs the sweep (and heartbeats), and waits until the verifier has read the log since. */
  advance(ms: number, verifier: Verifier): Promise<void>
}

async function rig(t: TestContext): Promise<Rig> {
  t.mock.timers.enable({ apis: ['setInterval'] })
  const clock = manualClock(Date.now())
  const store = new MemoryStore()
  const keys = await SigningKeySet.generate({ alg: 'ES256' })
  const tokenKey = randomBytes(32)
  const closers: (() => Promise<void>)[] = [() => store.close()]
  t.after(async () => {
    for (const close of closers.reverse()) await close()
  })
  return {
    clock,
    store,
    keys,
    async engine(options = {}) {
      const auth = await createTessera({ store, keys, tokenKey, clock, issuer: ISSUER, audience: AUDIENCE, ...options })
      closers.push(() => auth.close())
      return auth
    },
    async verifier(options = {}) {
      const v = await createVerifier({
        mode: 'cached',
        keys,
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['ES256'],
        store,
        clock,
        // Staleness is not what these tests are about: a read every 20 ms keeps the set trusted.
        log: { blockMs: 20, maxStalenessMs: 2 * 60 * MINUTE },
        ...options,
      })
      closers.push(() => v.close())
      return v
    },
    async advance(ms, verifier) {
      clock.advance(ms)
      // Ticks run the verifier's sweep and the engines' heartbeats at the new time.
      t.mock.timers.tick(SWEEP_EVERY_MS)
      await waitFor(() => verifier.metrics().timeSinceLastLogContactMs === 0 && verifier.metrics().issuerLive !== false, 5000, 5)
    },
  }
}

describe('a cached verifier remembers a revocation as long as the tokens it covers can pass', () => {
  test('issuer TTL 3600 s, verifier defaults: still refused 16 minutes later, by the set alone; forgotten once the token expired', async (t) => {
    const r = await rig(t)
    const auth = await r.engine({ accessTokenTtlSeconds: 3600 })
    const verifier = await r.verifier()
    const login = await auth.createSession({ userId: 'long' })
    await verifier.verify(login.accessToken)
    await auth.revokeSession(login.sessionId)
    await waitFor(() => verifier.verify(login.accessToken).then(() => false, () => true), 2000, 2)
    await r.advance(16 * MINUTE, verifier)
    await rejectsWith(verifier.verify(login.accessToken), 'ERR_SESSION_REVOKED')
    assert.equal(verifier.metrics().storeChecks, 0, 'decided by the revocation set, not a store check')
    await r.advance(45 * MINUTE, verifier)
    await rejectsWith(verifier.verify(login.accessToken), 'ERR_ACCESS_TOKEN_EXPIRED')
    assert.equal(verifier.metrics().revocationSetSize, 0, 'what cannot reject a live token any more is forgotten')
  })

  test('clock tolerance and a revoker whose clock is 30 s behind: refused 20 s past exp, inside the tolerance', async (t) => {
    const r = await rig(t)
    const auth = await r.engine({ clockToleranceSeconds: 60 })
    const behind = await r.engine({ clockToleranceSeconds: 60, clock: { nowMs: () => r.clock.nowMs() - 30_000 } })
    const verifier = await r.verifier({ clockToleranceSeconds: 60 })
    const login = await auth.createSession({ userId: 'tolerance' })
    await verifier.verify(login.accessToken)
    await behind.revokeSession(login.sessionId)
    await waitFor(() => verifier.verify(login.accessToken).then(() => false, () => true), 2000, 2)
    await r.advance(900_000 + 20_000, verifier)
    await rejectsWith(verifier.verify(login.accessToken), 'ERR_SESSION_REVOKED')
    assert.equal(verifier.metrics().storeChecks, 0)
    await r.advance(60_000, verifier)
    await rejectsWith(verifier.verify(login.accessToken), 'ERR_ACCESS_TOKEN_EXPIRED')
  })

  test('a token issued by a refresh retried inside the grace window is covered too', async (t) => {
    const r = await rig(t)
    const auth = await r.engine({ accessTokenTtlSeconds: 60, refreshGraceSeconds: 10 })
    const verifier = await r.verifier()
    const login = await auth.createSession({ userId: 'grace' })
    await auth.refreshSession(login.refreshToken)
    r.clock.advance(9_000)
    const retried = await auth.refreshSession(login.refreshToken)
    await verifier.verify(retried.accessToken)
    await auth.revokeSession(login.sessionId)
    await waitFor(() => verifier.verify(retried.accessToken).then(() => false, () => true), 2000, 2)
    await r.advance(60_000 - 9_000 + 5_000, verifier)
    await rejectsWith(verifier.verify(retried.accessToken), 'ERR_SESSION_REVOKED')
    assert.equal(verifier.metrics().storeChecks, 0)
  })

  test('issuer TTL 60 s, verifier told to remember 5 s: refused at start', async (t) => {
    const r = await rig(t)
    await r.engine({ accessTokenTtlSeconds: 60 })
    await assert.rejects(r.verifier({ revocationTtlMs: 5000 }), (err: Error) => {
      assert.ok(err instanceof TypeError)
      assert.match(err.message, /"revocationTtlMs" option \(5000 ms\) is shorter than the issuer's tokens may live \(70000 ms/)
      return true
    })
  })

  test('issuer TTL 60 s, verifier told to remember 5 s and started before the issuer: warned, and still refused 10 s after', async (t) => {
    const r = await rig(t)
    const warnings: string[] = []
    const verifier = await r.verifier({ revocationTtlMs: 5000, onWarning: (m) => warnings.push(m) })
    const auth = await r.engine({ accessTokenTtlSeconds: 60 })
    await waitFor(() => verifier.metrics().issuerLive === true, 2000, 2)
    assert.ok(warnings.some((w) => /longer than "revocationTtlMs" \(5000\)/.test(w)), warnings.join('\n'))
    const login = await auth.createSession({ userId: 'short' })
    await verifier.verify(login.accessToken)
    await auth.revokeSession(login.sessionId)
    await waitFor(() => verifier.verify(login.accessToken).then(() => false, () => true), 2000, 2)
    await r.advance(10_000, verifier)
    await rejectsWith(verifier.verify(login.accessToken), 'ERR_SESSION_REVOKED')
    assert.equal(verifier.metrics().storeChecks, 0)
  })

  test('a token that lives longer than the issuer advertises is checked in the store', async (t) => {
    const r = await rig(t)
    const auth = await r.engine({ accessTokenTtlSeconds: 60 })
    const verifier = await r.verifier()
    const login = await auth.createSession({ userId: 'outlier' })
    const { token } = await issueAccessToken(r.keys, {
      userId: 'outlier',
      sessionId: login.sessionId,
      tokenId: newTokenId(),
      nowMs: r.clock.nowMs(),
      ttlSeconds: 3600,
      issuer: ISSUER,
      audience: AUDIENCE,
    })
    await verifier.verify(login.accessToken)
    assert.equal(verifier.metrics().storeChecks, 0)
    await verifier.verify(token)
    assert.equal(verifier.metrics().storeChecks, 1)
  })
})

describe('RevocationSet', () => {
  test('keeps a session entry until its expiry plus tolerance, whatever its own horizon; at least the horizon after it arrived', () => {
    const set = new RevocationSet(5000, 1000)
    const at = 1_000_000
    const subject = { userId: 'u', tokenId: 't', sessionCreatedAtMs: 1, sessionKey: RevocationSet.sessionKey('u', 'l') }
    set.apply({ position: '1-0', atMs: at, event: { kind: 'session', userId: 'u', localId: 'l', reason: 'logout', expiresAtMs: at + 70_000 } }, at)
    set.sweep(at + 70_000)
    assert.equal(set.status(subject), 'session_ended')
    set.sweep(at + 71_000)
    assert.equal(set.status(subject), 'active')
    // An entry of log version 1 (no expiry) is kept for the horizon after it arrived here, not after its own time.
    set.apply({ position: '2-0', atMs: at - 60_000, event: { kind: 'session', userId: 'u', localId: 'l', reason: 'logout' } }, at)
    set.sweep(at + 5_999)
    assert.equal(set.status(subject), 'session_ended')
    set.sweep(at + 6_000)
    assert.equal(set.status(subject), 'active')
  })
})
