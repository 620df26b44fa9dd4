// The DPoP half of the store contract (issue 15): key binding of sessions and
// the proof replay cache. Run against every store, like store-contract.ts.
// Proofs come from panva's `dpop` (a stock client) and carry the real time,
// so these engines use the real clock.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { calculateThumbprint, newDpopKey, proof, type KeyPair } from './dpop.js'
import { type AuthErrorCode, type AuthOptions, createTessera, type DpopPresentation, type SessionStore, SigningKeySet, type Tessera } from '@tessera/core'
import type { StoreFactory } from './store-contract.js'

const TOKEN_URL = 'https://auth.example/auth/refresh'
const LOGIN_URL = 'https://auth.example/auth/login'
const API_URL = 'https://api.example/orders'

async function rejectsWith(promise: Promise<unknown>, code: AuthErrorCode): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.equal((err as { code?: string }).code, code, (err as Error).message)
    return true
  })
}

async function at(key: KeyPair, method: string, url: string, accessToken?: string): Promise<DpopPresentation> {
  return { proof: await proof(key, method, url, accessToken === undefined ? {} : { accessToken }), method, url }
}

/** Registers the DPoP contract tests for one store. */
export function dpopStoreContract(factory: StoreFactory): void {
  describe(`SessionStore contract, DPoP: ${factory.name}`, () => {
    let store: SessionStore
    let cleanup: () => Promise<void>
    let keys: SigningKeySet
    const tokenKey = 'contract-test-token-key-of-32-bytes!!'
    const engine = (options: AuthOptions = {}): Promise<Tessera> => createTessera({ store, keys, tokenKey, refreshGraceSeconds: 10, ...options })
    const newUser = () => `dpop-${randomUUID().slice(0, 8)}`

    before(async () => {
      const made = await factory.create()
      store = made.store
      cleanup = () => made.cleanup()
      keys = await SigningKeySet.generate()
    })
    after(async () => cleanup())

    test('a sign-in with a proof binds the session: DPoP token type, cnf.jkt, and a refresh with the same key stays bound', async () => {
      const auth = await engine()
      const key = await newDpopKey()
      const jkt = await calculateThumbprint(key.publicKey)
      const login = await auth.createSession({ userId: newUser(), dpop: await at(key, 'POST', LOGIN_URL) })
      assert.equal(login.tokenType, 'DPoP')
      assert.equal(login.session.dpopBound, true)
      const claims = await auth.verifyAccessToken(login.accessToken, { mode: 'strict', presentation: { scheme: 'DPoP', dpop: await at(key, 'GET', API_URL, login.accessToken) } })
      assert.equal(claims.keyThumbprint, jkt)
      const next = await auth.refreshSession(login.refreshToken, { dpop: await at(key, 'POST', TOKEN_URL) })
      assert.equal(next.tokenType, 'DPoP')
      assert.equal(next.session.generation, 2)
      assert.equal(next.session.dpopBound, true)
      assert.equal((await auth.listSessions(login.userId))[0]?.dpopBound, true)
      const third = await auth.refreshSession(next.refreshToken, { dpop: await at(key, 'POST', TOKEN_URL) })
      assert.equal((await auth.verifyAccessToken(third.accessToken, { mode: 'signature' })).keyThumbprint, jkt)
    })

    for (const attack of ['without a proof', "with another key's proof"] as const) {
      test(`a bound refresh token ${attack} is refused as theft: event, session revoked, logged`, async () => {
        const auth = await engine()
        const key = await newDpopKey()
        const userId = newUser()
        const events: unknown[] = []
        auth.on('dpop_key_mismatch', (e) => events.push(e))
        const login = await auth.createSession({ userId, dpop: await at(key, 'POST', LOGIN_URL) })
        const start = (await auth.revocationLogInfo()).lastPosition
        const dpop = attack === 'without a proof' ? undefined : await at(await newDpopKey(), 'POST', TOKEN_URL)
        await rejectsWith(auth.refreshSession(login.refreshToken, dpop ? { dpop } : {}), 'ERR_DPOP_KEY_MISMATCH')
        assert.deepEqual(events, [{ userId, sessionId: login.sessionId, generation: 1 }])
        await rejectsWith(auth.verifyAccessToken(login.accessToken, { mode: 'strict' }), 'ERR_SESSION_REVOKED')
        // The owner's next refresh finds nothing: the stolen copy cost the session, as reuse does.
        await rejectsWith(auth.refreshSession(login.refreshToken, { dpop: await at(key, 'POST', TOKEN_URL) }), 'ERR_SESSION_NOT_FOUND')
        const { entries } = await auth.readRevocations(start)
        assert.equal(entries.find((e) => e.event.userId === userId && e.event.kind === 'session' && e.event.reason === 'dpop_key_mismatch') !== undefined, true)
      })
    }

    test('a retry inside the grace window with the same key gets the same successor; with another key it is theft', async () => {
      const auth = await engine()
      const key = await newDpopKey()
      const login = await auth.createSession({ userId: newUser(), dpop: await at(key, 'POST', LOGIN_URL) })
      const first = await auth.refreshSession(login.refreshToken, { dpop: await at(key, 'POST', TOKEN_URL) })
      const retry = await auth.refreshSession(login.refreshToken, { dpop: await at(key, 'POST', TOKEN_URL) })
      assert.equal(retry.refreshToken, first.refreshToken)
      await rejectsWith(auth.refreshSession(login.refreshToken, { dpop: await at(await newDpopKey(), 'POST', TOKEN_URL) }), 'ERR_DPOP_KEY_MISMATCH')
      await rejectsWith(auth.refreshSession(first.refreshToken, { dpop: await at(key, 'POST', TOKEN_URL) }), 'ERR_SESSION_NOT_FOUND')
    })

    test('a bearer session stays bearer without proofs, and becomes bound by its first refresh with a proof', async () => {
      const auth = await engine()
      const login = await auth.createSession({ userId: newUser() })
      assert.equal(login.tokenType, 'Bearer')
      assert.equal(login.session.dpopBound, false)
      await auth.verifyAccessToken(login.accessToken, { presentation: { scheme: 'Bearer' } })
      const next = await auth.refreshSession(login.refreshToken)
      assert.equal(next.tokenType, 'Bearer')
      const key = await newDpopKey()
      const bound = await auth.refreshSession(next.refreshToken, { dpop: await at(key, 'POST', TOKEN_URL) })
      assert.equal(bound.tokenType, 'DPoP')
      assert.equal(bound.session.dpopBound, true)
      await rejectsWith(auth.refreshSession(bound.refreshToken), 'ERR_DPOP_KEY_MISMATCH')
    })

    test('a bound access token sent as Bearer, and a bearer token sent as DPoP, are refused', async () => {
      const auth = await engine()
      const key = await newDpopKey()
      const bound = await auth.createSession({ userId: newUser(), dpop: await at(key, 'POST', LOGIN_URL) })
      await rejectsWith(auth.verifyAccessToken(bound.accessToken, { presentation: { scheme: 'Bearer' } }), 'ERR_DPOP_KEY_MISMATCH')
      const bearer = await auth.createSession({ userId: newUser() })
      await rejectsWith(auth.verifyAccessToken(bearer.accessToken, { presentation: { scheme: 'DPoP', dpop: await at(key, 'GET', API_URL, bearer.accessToken) } }), 'ERR_ACCESS_TOKEN_INVALID')
    })

    test('with DPoP required, sign-in, refresh and bearer use without a proof are refused', async () => {
      const auth = await engine({ dpop: { required: true } })
      await rejectsWith(auth.createSession({ userId: newUser() }), 'ERR_DPOP_PROOF_INVALID')
      const key = await newDpopKey()
      const login = await auth.createSession({ userId: newUser(), dpop: await at(key, 'POST', LOGIN_URL) })
      await rejectsWith(auth.refreshSession(login.refreshToken), 'ERR_DPOP_PROOF_INVALID')
      const open = await (await engine()).createSession({ userId: newUser() })
      await rejectsWith(auth.verifyAccessToken(open.accessToken, { presentation: { scheme: 'Bearer' } }), 'ERR_DPOP_PROOF_INVALID')
    })

    test('the replay cache answers true once per proof key, across engines, until its time has passed', async () => {
      const proofKey = randomUUID().replace(/-/g, '').slice(0, 22)
      const nowMs = Date.now()
      assert.equal(await store.markDpopProofUsed({ proofKey, ttlMs: 60_000, nowMs }), true)
      assert.equal(await store.markDpopProofUsed({ proofKey, ttlMs: 60_000, nowMs: nowMs + 1 }), false)
      const short = `${proofKey.slice(0, 20)}zz`
      assert.equal(await store.markDpopProofUsed({ proofKey: short, ttlMs: 50, nowMs }), true)
      // Bounded wait for a real expiry (Redis keeps its own time).
      const deadline = Date.now() + 5000
      let again = false
      while (!again && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        again = await store.markDpopProofUsed({ proofKey: short, ttlMs: 50, nowMs: Date.now() })
      }
      assert.equal(again, true)
      // Two engines on one store: a proof used through one is a replay through the other.
      const key = await newDpopKey()
      const presentation = await at(key, 'POST', LOGIN_URL)
      await (await engine()).createSession({ userId: newUser(), dpop: presentation })
      await rejectsWith((await engine()).createSession({ userId: newUser(), dpop: presentation }), 'ERR_DPOP_PROOF_INVALID')
    })
  })
}
