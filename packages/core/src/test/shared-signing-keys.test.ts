// The signing key set as fleet state, through the engine: several engines on
// one store (the memory store here; the server fleet test runs the same on
// Redis) agree on every key, see each other's rotations, and never refuse a
// valid token because a rotation happened elsewhere.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { waitFor } from '../../../../test/support/redis.js'
import { manualClock } from '../clock.js'
import { MemoryStore } from '../memory-store.js'
import type { AuthOptions } from '../options.js'
import { SigningKeysUnreadable } from '../sealed-signing-keys.js'
import { SigningKeySet } from '../signing-keys.js'
import { createTessera, type Tessera } from '../tessera.js'

const TOKEN_KEY = 'shared-keys-test-token-key-of-32-bytes'

/** A memory store that counts version polls, to see what unknown `kid`s cost. */
class CountingStore extends MemoryStore {
  versionReads = 0
  override async signingKeysVersion(): Promise<number> {
    this.versionReads++
    return super.signingKeysVersion()
  }
}

function fleet(store: MemoryStore, count: number, options: AuthOptions = {}): Promise<Tessera[]> {
  return Promise.all(
    Array.from({ length: count }, () => createTessera({ store, tokenKey: TOKEN_KEY, sharedKeys: { pollIntervalMs: 60_000 }, accessTokenTtlSeconds: 60, ...options })),
  )
}

async function closeAll(engines: Tessera[], store: MemoryStore): Promise<void> {
  for (const e of engines) await e.close()
  await store.close()
}

describe('shared signing keys', () => {
  test('five instances starting together on an empty store agree on one key set and publish identical JWKS', async () => {
    const store = new MemoryStore()
    const engines = await fleet(store, 5)
    try {
      const jwks = engines.map((e) => JSON.stringify(e.keys.publicJwks()))
      assert.equal(new Set(jwks).size, 1)
      assert.equal(engines[0]!.keys.keyIds().length, 1)
      assert.equal(await store.signingKeysVersion(), 1)
      const stored = await store.readSigningKeys()
      assert.ok(!stored!.document.includes(engines[0]!.keys.toJSON().keys[0]!.privateJwk.d!), 'private key sealed at rest')
    } finally {
      await closeAll(engines, store)
    }
  })

  test('a rotation on one instance: its new tokens verify at once on the others, old tokens keep verifying, JWKS follow', async () => {
    const store = new MemoryStore()
    const [a, b, c] = await fleet(store, 3)
    try {
      const before = await b!.createSession({ userId: 'u1' })
      const { keyId, keyIds } = await a!.rotateSigningKeys()
      assert.equal(keyIds.length, 2)
      const after = await a!.createSession({ userId: 'u2' })
      for (const engine of [b!, c!]) {
        // No poll has run (60 s interval): the unknown kid makes the engine look in the store before refusing.
        assert.equal((await engine.verifyAccessToken(after.accessToken, { mode: 'strict' })).keyId, keyId)
        assert.equal((await engine.verifyAccessToken(before.accessToken, { mode: 'strict' })).userId, 'u1')
        assert.deepEqual(engine.keys.publicJwks(), a!.keys.publicJwks())
        // And signs with the new key from now on.
        assert.equal((await engine.verifyAccessToken((await engine.createSession({ userId: 'u3' })).accessToken)).keyId, keyId)
      }
    } finally {
      await closeAll([a!, b!, c!], store)
    }
  })

  test('an instance that sees no token picks up a rotation by polling', async () => {
    const store = new MemoryStore()
    const [a] = await fleet(store, 1)
    const b = await createTessera({ store, tokenKey: TOKEN_KEY, sharedKeys: { pollIntervalMs: 50 } })
    try {
      const { keyId } = await a!.rotateSigningKeys()
      await waitFor(() => b.keys.current().keyId === keyId, 5000)
      assert.deepEqual(b.keys.publicJwks(), a!.keys.publicJwks())
    } finally {
      await closeAll([a!, b], store)
    }
  })

  test('two instances rotating at once lose no key: both new keys are in the set every instance holds', async () => {
    const store = new MemoryStore()
    const engines = await fleet(store, 2)
    try {
      const first = engines[0]!.keys.keyIds()[0]!
      const rotated = await Promise.all([engines[0]!.rotateSigningKeys(), engines[1]!.rotateSigningKeys(), engines[0]!.rotateSigningKeys()])
      for (const e of engines) await e.refreshSigningKeys()
      const ids = new Set(engines[0]!.keys.keyIds())
      for (const { keyId } of rotated) assert.ok(ids.has(keyId), `key ${keyId} was lost`)
      assert.ok(ids.has(first))
      assert.equal(ids.size, 4)
      assert.deepEqual(engines[1]!.keys.keyIds(), engines[0]!.keys.keyIds())
      assert.equal(await store.signingKeysVersion(), 4)
    } finally {
      await closeAll(engines, store)
    }
  })

  test('a retired key stays published while its tokens may live, then drops out of the JWKS and the store', async () => {
    const clock = manualClock(Date.now())
    const store = new MemoryStore()
    const [a, b] = await fleet(store, 2, { clock, clockToleranceSeconds: 5 })
    try {
      const old = a!.keys.current().keyId
      const token = (await a!.createSession({ userId: 'u1' })).accessToken
      await a!.rotateSigningKeys()
      await b!.refreshSigningKeys()
      // Lifetime 60 s + tolerance 5 s + two poll intervals (2 x 60 s): the old key is published all along.
      clock.advance(64_000)
      assert.ok(b!.keys.publicJwks(clock.nowMs()).keys.some((k) => k.kid === old))
      assert.equal((await b!.verifyAccessToken(token, { mode: 'signature' })).keyId, old)
      clock.advance(60_000 * 2 + 2_000)
      assert.ok(!b!.keys.publicJwks(clock.nowMs()).keys.some((k) => k.kid === old))
      await a!.rotateSigningKeys()
      await b!.refreshSigningKeys()
      assert.ok(!b!.keys.keyIds().includes(old), "pruned from the stored set at the next rotation")
    } finally {
      await closeAll([a!, b!], store)
    }
  })

  test('a given key set seeds an empty store; on a seeded store the store wins and the given set follows it', async () => {
    const store = new MemoryStore()
    const seed = await SigningKeySet.generate({ alg: 'EdDSA' })
    const seededId = seed.keyIds()[0]!
    const [a] = await fleet(store, 1, { keys: seed })
    const other = await SigningKeySet.generate()
    const [b] = await fleet(store, 1, { keys: other })
    try {
      assert.equal(a!.keys, seed)
      assert.deepEqual(a!.keys.keyIds(), [seededId])
      assert.equal(b!.keys, other)
      assert.deepEqual(other.keyIds(), [seededId])
    } finally {
      await closeAll([a!, b!], store)
    }
  })

  test('an instance with another token key cannot open the stored keys and says so at start', async () => {
    const store = new MemoryStore()
    const [a] = await fleet(store, 1)
    try {
      await assert.rejects(createTessera({ store, tokenKey: 'a-different-token-key-of-32-bytes-!!', sharedKeys: true }), SigningKeysUnreadable)
      await assert.rejects(createTessera({ store, sharedKeys: true }), /"tokenKey" option is required/)
    } finally {
      await closeAll([a!], store)
    }
  })

  test('tokens naming unknown keys cost the store a bounded number of reads and are refused', async () => {
    const store = new CountingStore()
    const [a, b] = await fleet(store, 2)
    try {
      const real = (await a!.createSession({ userId: 'u1' })).accessToken
      const [, payload, signature] = real.split('.')
      const forged = Array.from({ length: 200 }, () => {
        const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: randomBytes(8).toString('hex'), typ: 'at+jwt' })).toString('base64url')
        return `${header}.${payload}.${signature}`
      })
      const reads = store.versionReads
      const results = await Promise.allSettled(forged.map((t) => b!.verifyAccessToken(t, { mode: 'signature' })))
      assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'ERR_ACCESS_TOKEN_INVALID'))
      assert.ok(store.versionReads - reads <= 3, `${store.versionReads - reads} reads for 200 concurrent unknown kids`)
    } finally {
      await closeAll([a!, b!], store)
    }
  })
})
