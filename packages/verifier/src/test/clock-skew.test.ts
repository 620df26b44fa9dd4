// Issue 11 section 3: revoke-all and ban must not trust the revoking instance's
// clock. Three engines share one store with clocks 800 ms apart (both
// directions); a cached and a strict verifier run on the middle clock.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { createTessera, MemoryStore, type SessionStore, SigningKeySet, type Tessera } from '@tessera/core'
import { redisStoreForTest, waitFor } from '../../../../test/support/redis.js'
import { type Verifier } from '../verifier.js'
import { createVerifier } from '../create-verifier.js'
import { AUDIENCE, ISSUER, rejectsWith } from './fixtures.js'

const SKEW_MS = 800

interface Fleet {
  ahead: Tessera
  middle: Tessera
  behind: Tessera
  cached: Verifier
  strict: Verifier
  close(): Promise<void>
}

async function fleetOn(store: SessionStore, close: () => Promise<void>): Promise<Fleet> {
  const keys = await SigningKeySet.generate({ alg: 'ES256' })
  const tokenKey = randomBytes(32)
  const engine = (offsetMs: number) => {
    const clock = { nowMs: () => Date.now() + offsetMs }
    return createTessera({ store, keys, tokenKey, issuer: ISSUER, audience: AUDIENCE, clock })
  }
  const [ahead, middle, behind] = await Promise.all([engine(SKEW_MS), engine(0), engine(-SKEW_MS)])
  const verifierClock = { nowMs: () => Date.now() }
  const options = { keys, issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256' as const], store, clock: verifierClock }
  const cached = await createVerifier({ ...options, mode: 'cached', log: { blockMs: 100, maxStalenessMs: 1000 } })
  const strict = await createVerifier({ ...options, mode: 'strict' })
  return {
    ahead,
    middle,
    behind,
    cached,
    strict,
    async close() {
      await cached.close()
      await strict.close()
      for (const e of [ahead, middle, behind]) await e.close()
      await close()
    },
  }
}

const refusedBy = (v: Verifier, token: string) => () => v.verify(token).then(() => false, () => true)

const stores = [
  {
    name: 'memory store',
    async open(): Promise<Fleet> {
      const store = new MemoryStore()
      return fleetOn(store, () => store.close())
    },
  },
  {
    name: 'Redis store',
    async open(): Promise<Fleet> {
      const made = await redisStoreForTest('skew')
      return fleetOn(made.store, () => made.cleanup())
    },
  },
]

for (const kind of stores) {
  describe(`revoke-all and ban across skewed clocks (${kind.name})`, () => {
    for (const [revoker, creator] of [
      ['middle', 'ahead'],
      ['behind', 'ahead'],
      ['ahead', 'behind'],
    ] as const) {
      test(`revoke-all through the ${revoker} instance ends a session the ${creator} instance created, in cached and strict mode and for refresh`, async (t) => {
        const fleet = await kind.open()
        t.after(() => fleet.close())
        const userId = `skew-${revoker}-${creator}`
        const login = await fleet[creator].createSession({ userId })
        await fleet.cached.verify(login.accessToken)
        await fleet[revoker].revokeAllSessions(userId)
        await waitFor(refusedBy(fleet.cached, login.accessToken), 3000, 2)
        await rejectsWith(fleet.cached.verify(login.accessToken), 'ERR_ACCESS_TOKEN_REVOKED')
        await rejectsWith(fleet.strict.verify(login.accessToken), 'ERR_ACCESS_TOKEN_REVOKED')
        await rejectsWith(fleet[creator].refreshSession(login.refreshToken), 'ERR_SESSION_NOT_FOUND')
      })
    }

    test('a ban through the instance that runs behind ends a session the instance ahead created', async (t) => {
      const fleet = await kind.open()
      t.after(() => fleet.close())
      const login = await fleet.ahead.createSession({ userId: 'skew-ban' })
      await fleet.cached.verify(login.accessToken)
      await fleet.behind.banUser('skew-ban')
      await waitFor(refusedBy(fleet.cached, login.accessToken), 3000, 2)
      await rejectsWith(fleet.strict.verify(login.accessToken), 'ERR_ACCESS_TOKEN_REVOKED')
      await rejectsWith(fleet.ahead.refreshSession(login.refreshToken), 'ERR_SESSION_NOT_FOUND')
    })

    for (const [revoker, creator] of [
      ['ahead', 'behind'],
      ['ahead', 'middle'],
      ['middle', 'behind'],
    ] as const) {
      test(`a session the ${creator} instance creates right after revoke-all through the ${revoker} instance is valid everywhere, refreshed too`, async (t) => {
        const fleet = await kind.open()
        t.after(() => fleet.close())
        const userId = `after-${revoker}-${creator}`
        const old = await fleet[revoker].createSession({ userId })
        await fleet[revoker].revokeAllSessions(userId)
        const login = await fleet[creator].createSession({ userId })
        // The revocation is applied before the new token is checked, so a wrong cut-off would show.
        await waitFor(refusedBy(fleet.cached, old.accessToken), 3000, 2)
        assert.equal((await fleet.cached.verify(login.accessToken)).sessionId, login.sessionId)
        assert.equal((await fleet.strict.verify(login.accessToken)).sessionId, login.sessionId)
        const next = await fleet[creator].refreshSession(login.refreshToken)
        await fleet.cached.verify(next.accessToken)
        await fleet.strict.verify(next.accessToken)
        const again = await fleet[revoker].refreshSession(next.refreshToken)
        await fleet.cached.verify(again.accessToken)
        assert.equal((await fleet.middle.listSessions(userId)).length, 1)
      })
    }
  })
}
