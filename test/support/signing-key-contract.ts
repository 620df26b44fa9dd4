// The signing-key half of the store contract (SigningKeyStore): versioned,
// compare-and-set writes, so a rotation racing another cannot lose a key.
// storeContract registers it, so the memory and Redis stores both run it.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { SessionStore } from '@tessera/core'

/** Registers the signing-key contract tests; `store()` gives the suite's store (fresh per suite, shared by these tests in order). */
export function signingKeyContract(store: () => SessionStore): void {
  describe('signing key set', () => {
    test('holds nothing at first: no document, version 0', async () => {
      assert.equal(await store().readSigningKeys(), null)
      assert.equal(await store().signingKeysVersion(), 0)
    })

    test('writes version 1 over nothing, then each write expects the version it read', async () => {
      const s = store()
      assert.deepEqual(await s.writeSigningKeys({ expectedVersion: 0, document: 'first' }), { written: true, version: 1 })
      assert.deepEqual(await s.readSigningKeys(), { version: 1, document: 'first' })
      assert.deepEqual(await s.writeSigningKeys({ expectedVersion: 1, document: 'second' }), { written: true, version: 2 })
      assert.equal(await s.signingKeysVersion(), 2)
    })

    test('a write that expects an older version writes nothing and returns what is stored', async () => {
      const s = store()
      const stale = await s.writeSigningKeys({ expectedVersion: 1, document: 'lost' })
      assert.deepEqual(stale, { written: false, current: { version: 2, document: 'second' } })
      const fresh = await s.writeSigningKeys({ expectedVersion: 0, document: 'lost' })
      assert.equal(fresh.written, false)
      assert.deepEqual(await s.readSigningKeys(), { version: 2, document: 'second' })
    })

    test('of 20 concurrent writers expecting one version, exactly one wins', async () => {
      const s = store()
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.writeSigningKeys({ expectedVersion: 2, document: `racer-${i}` })))
      const winners = results.filter((r) => r.written)
      assert.equal(winners.length, 1)
      const stored = await s.readSigningKeys()
      assert.equal(stored?.version, 3)
      for (const r of results) if (!r.written) assert.equal(r.current?.version, 3)
    })
  })
}
