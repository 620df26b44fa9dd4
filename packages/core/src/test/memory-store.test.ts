import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { manualClock } from '../clock.js'
import { MemoryStore } from '../memory-store.js'
import { createTessera } from '../tessera.js'
import { storeContract } from '../../../../test/support/store-contract.js'
import { dpopStoreContract } from '../../../../test/support/store-contract-dpop.js'

storeContract({
  name: 'MemoryStore',
  async create() {
    const store = new MemoryStore()
    return { store, cleanup: () => store.close() }
  },
})

describe('MemoryStore specifics', () => {
  test('everything expires: after the longest lifetime a sweep leaves nothing behind', async () => {
    const clock = manualClock(Date.now())
    const store = new MemoryStore({ clock, logClock: clock })
    const auth = await createTessera({ store, clock, refreshIdleTtlSeconds: 600, refreshAbsoluteTtlSeconds: 3600, accessTokenTtlSeconds: 300 })
    for (let i = 0; i < 20; i++) {
      const s = await auth.createSession({ userId: `u${i % 5}` })
      if (i % 3 === 0) await auth.denyAccessToken(s.accessToken)
      if (i % 4 === 0) await auth.revokeSession(s.sessionId)
    }
    await auth.revokeAllSessions('u1')
    await auth.banUser('u2', { until: clock.nowMs() + 1000 })
    await auth.issueOneTimeToken('u3', 'password-reset', { ttlSeconds: 60 })
    assert.ok(store.size().sessions > 0 && store.size().logEntries > 0)
    clock.advance(3600_000 + 1)
    store.sweep(clock.nowMs())
    assert.deepEqual(store.size(), { users: 0, sessions: 0, deniedTokens: 0, oneTimeTokens: 0, logEntries: 0, dpopProofs: 0 })
    await store.close()
  })

  test('a reader whose position was trimmed away is told of the gap', async () => {
    const clock = manualClock(Date.now())
    const store = new MemoryStore({ clock, logClock: clock })
    const auth = await createTessera({ store, clock, accessTokenTtlSeconds: 60 })
    const a = await auth.createSession({ userId: 'g' })
    const missed = await auth.createSession({ userId: 'g' })
    await auth.revokeSession(a.sessionId)
    await auth.revokeSession(missed.sessionId)
    const { entries } = await auth.readRevocations(null)
    const position = entries[0]!.position
    clock.advance(60_000 + 5_001)
    const b = await auth.createSession({ userId: 'g' })
    await auth.revokeSession(b.sessionId)
    assert.equal((await auth.readRevocations(position)).gap, true)
    // the memory store knows exactly what it trimmed: a reader at the last trimmed entry missed nothing
    assert.equal((await auth.readRevocations(entries[1]!.position)).gap, false)
    const fresh = await auth.readRevocations(null)
    assert.equal(fresh.gap, false)
    assert.equal(fresh.entries.length, 1)
    await store.close()
  })
})

dpopStoreContract({
  name: 'MemoryStore',
  async create() {
    const store = new MemoryStore()
    return { store, cleanup: () => store.close() }
  },
})
