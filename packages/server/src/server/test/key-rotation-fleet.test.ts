// Three server instances on one Redis (one key prefix, one connection each, as
// three processes would have): a key rotated through any of them is used and
// accepted by all, published by all, and no valid token is refused on the way.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { decodeProtectedHeader } from 'jose'
import { createTessera, type Tessera } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { createVerifier } from '@tessera/verifier'
import { deleteKeys, SHARED_REDIS_URL, uniquePrefix, waitFor } from '../../../../../test/support/redis.js'
import { openPostgresUserStore } from '../../users/postgres.js'
import { buildApp } from '../app.js'
import { bearer, DATABASE_URL, FIXTURE_CONNECT_TIMEOUT_MS, MemoryMailer, testSchema } from './helpers.js'

const ADMIN_TOKEN = 'fleet-admin-token-of-at-least-24-chars'
const TOKEN_KEY = 'fleet-test-token-key-of-at-least-32-bytes'
const ISSUER = 'https://auth.fleet.test'

interface Instance {
  name: string
  app: FastifyInstance
  auth: Tessera
  close(): Promise<void>
}

describe('signing keys across a fleet of three instances on one Redis', () => {
  const prefix = uniquePrefix('keys-fleet')
  let schema: Awaited<ReturnType<typeof testSchema>>
  let fleet: Instance[] = []

  async function instance(name: string): Promise<Instance> {
    const store = await RedisSessionStore.connect({ url: SHARED_REDIS_URL, keyPrefix: prefix })
    const auth = await createTessera({ store, tokenKey: TOKEN_KEY, issuer: ISSUER, audience: 'api', accessTokenTtlSeconds: 120, sharedKeys: { pollIntervalMs: 300 } })
    const users = await openPostgresUserStore({ url: DATABASE_URL, schema: schema.schema, connectTimeoutMs: FIXTURE_CONNECT_TIMEOUT_MS })
    const app = await buildApp({ auth, users, mailer: new MemoryMailer(), webDir: null, adminToken: ADMIN_TOKEN })
    return {
      name,
      app,
      auth,
      async close() {
        await app.close()
        await auth.close()
        await users.close()
        await store.close()
      },
    }
  }

  before(async () => {
    schema = await testSchema()
    // Started together on an empty store: they must agree on the one set that was seeded first.
    fleet = await Promise.all(['A', 'B', 'C'].map(instance))
  })
  after(async () => {
    for (const i of fleet) await i.close()
    await deleteKeys(SHARED_REDIS_URL, prefix)
    await schema.drop()
  })

  const jwksOf = async (i: Instance) => (await i.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<{ keys: { kid: string; d?: string }[] }>()
  const protectedStatus = async (i: Instance, token: string) => (await i.app.inject({ method: 'GET', url: '/demo/protected', headers: bearer(token) })).statusCode
  const rotateOn = async (i: Instance) => {
    const res = await i.app.inject({ method: 'POST', url: '/admin/keys/rotate', headers: bearer(ADMIN_TOKEN) })
    assert.equal(res.statusCode, 200, res.body)
    return res.json<{ key_id: string; key_ids: string[] }>()
  }

  test('started together, the instances publish one identical JWKS', async () => {
    const documents = await Promise.all(fleet.map(jwksOf))
    assert.equal(documents[0]!.keys.length, 1)
    for (const d of documents) assert.deepEqual(d, documents[0])
  })

  test('rotate on A: A signs with the new key, B and C accept it at once, old tokens still pass, a JWKS verifier on B accepts it without waiting for its cache', async () => {
    const [a, b, c] = fleet as [Instance, Instance, Instance]
    await b.app.listen({ port: 0, host: '127.0.0.1' })
    const jwksUrl = `http://127.0.0.1:${(b.app.server.address() as AddressInfo).port}/.well-known/jwks.json`
    // A 10-minute cache and the default cooldown: only the unknown-kid refetch can make it see the new key.
    const verifier = await createVerifier({ mode: 'signature', keys: { jwksUrl, maxAgeMs: 600_000 }, issuer: ISSUER, audience: 'api', algorithms: ['ES256'] })
    try {
      const old = await b.auth.createSession({ userId: 'fleet-old' })
      assert.equal((await verifier.verify(old.accessToken)).userId, 'fleet-old')

      const { key_id: keyId } = await rotateOn(a)
      const fresh = await a.auth.createSession({ userId: 'fleet-new' })
      assert.equal(decodeProtectedHeader(fresh.accessToken).kid, keyId)

      for (const i of [b, c]) {
        assert.equal(await protectedStatus(i, fresh.accessToken), 200, `${i.name} refused a token signed with the rotated key`)
        assert.equal((await i.auth.verifyAccessToken(fresh.accessToken, { mode: 'strict' })).userId, 'fleet-new')
        assert.equal(await protectedStatus(i, old.accessToken), 200, `${i.name} refused a token signed before the rotation`)
      }
      assert.equal((await verifier.verify(fresh.accessToken)).userId, 'fleet-new')
      assert.equal((await verifier.verify(old.accessToken)).userId, 'fleet-old')

      const documents = await Promise.all(fleet.map(jwksOf))
      for (const d of documents) {
        assert.deepEqual(d, documents[0])
        assert.deepEqual(d.keys.map((k) => k.kid).sort(), [keyId, decodeProtectedHeader(old.accessToken).kid].sort())
        for (const k of d.keys) assert.equal(k.d, undefined)
      }
    } finally {
      await verifier.close()
    }
  })

  test('an instance that sees no traffic picks up a rotation made elsewhere within its poll interval', async () => {
    const [a, b, c] = fleet as [Instance, Instance, Instance]
    const { key_id: keyId } = await rotateOn(c)
    await waitFor(() => a.auth.keys.current().keyId === keyId && b.auth.keys.current().keyId === keyId, 5000)
    const issued = await Promise.all(fleet.map((i) => i.auth.createSession({ userId: `fleet-${i.name}` })))
    for (const s of issued) assert.equal(decodeProtectedHeader(s.accessToken).kid, keyId)
  })

  test('rotations through every instance while tokens are issued and checked across the fleet: no valid token is refused, no key is lost', async () => {
    const issuedKeys = new Set<string>()
    const rotations: Promise<{ key_id: string }>[] = []
    const failures: string[] = []
    for (let round = 0; round < 6; round++) {
      if (round % 2 === 0) rotations.push(rotateOn(fleet[round % 3]!))
      await Promise.all(
        fleet.map(async (issuer, n) => {
          const session = await issuer.auth.createSession({ userId: `load-${round}-${n}` })
          issuedKeys.add(String(decodeProtectedHeader(session.accessToken).kid))
          for (const checker of fleet) {
            const status = await protectedStatus(checker, session.accessToken)
            if (status !== 200) failures.push(`${issuer.name} -> ${checker.name}: ${status}`)
          }
        }),
      )
    }
    const rotated = await Promise.all(rotations)
    assert.deepEqual(failures, [])
    const held = new Set(fleet[0]!.auth.keys.keyIds())
    for (const { key_id } of rotated) assert.ok(held.has(key_id), `rotated key ${key_id} was lost`)
    for (const kid of issuedKeys) assert.ok(held.has(kid), `a key that signed tokens (${kid}) was dropped`)
    for (const i of fleet) await i.auth.refreshSigningKeys()
    for (const i of fleet) assert.deepEqual(i.auth.keys.keyIds(), fleet[0]!.auth.keys.keyIds())
  })
})
