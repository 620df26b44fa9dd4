// Issue 11: the issuer's limits are discoverable in its RFC 8414 metadata, and
// a verifier given `issuerMetadataUrl` checks them at start (mismatch = error
// at start, not a silent window), in every mode, before any heartbeat.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { issuerLimitsToMetadata, MemoryStore, SigningKeySet, type IssuerLimits } from '@tessera/core'
import { createVerifier } from '../create-verifier.js'
import { AUDIENCE, ISSUER, rejectsWith, tesseraFor } from './fixtures.js'

const LIMITS: IssuerLimits = { accessTokenTtlSeconds: 600, clockToleranceSeconds: 5, refreshGraceSeconds: 10 }

describe('issuer metadata (issuerMetadataUrl)', () => {
  let server: Server
  let base: string
  const documents = new Map<string, unknown>([
    ['/limits', { issuer: ISSUER, jwks_uri: `${ISSUER}/.well-known/jwks.json`, ...issuerLimitsToMetadata(LIMITS) }],
    ['/other-issuer', { issuer: 'https://elsewhere.test', ...issuerLimitsToMetadata(LIMITS) }],
    ['/no-limits', { issuer: ISSUER }],
    ['/bad-limits', { issuer: ISSUER, ...issuerLimitsToMetadata(LIMITS), tessera_access_token_ttl_seconds: '600' }],
  ])
  before(async () => {
    server = createServer((req, res) => {
      const document = documents.get(req.url ?? '')
      res.writeHead(document ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(document ?? {}))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))

  const options = async () => ({ keys: await SigningKeySet.generate({ alg: 'ES256' }), issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256' as const] })

  test('a revocationTtlMs shorter than the advertised limits need is refused at start, in strict mode too', async () => {
    const store = new MemoryStore()
    try {
      await assert.rejects(createVerifier({ ...(await options()), mode: 'strict', store, revocationTtlMs: 60_000, issuerMetadataUrl: `${base}/limits` }), (err: Error) => {
        assert.ok(err instanceof TypeError)
        assert.match(err.message, /"revocationTtlMs" option \(60000 ms\) is shorter than the issuer's tokens may live \(615000 ms.*from its metadata/)
        return true
      })
      const verifier = await createVerifier({ ...(await options()), mode: 'strict', store, revocationTtlMs: 615_000, issuerMetadataUrl: `${base}/limits` })
      assert.deepEqual(verifier.issuerLimits(), LIMITS)
      await verifier.close()
    } finally {
      await store.close()
    }
  })

  test('metadata of another issuer, malformed limits, or none reachable: refused at start', async () => {
    const signature = { ...(await options()), mode: 'signature' as const, dpop: false as const }
    await assert.rejects(createVerifier({ ...signature, issuerMetadataUrl: `${base}/other-issuer` }), /is for issuer "https:\/\/elsewhere.test", not the "issuer" option/)
    await assert.rejects(createVerifier({ ...signature, issuerMetadataUrl: `${base}/bad-limits` }), /"tessera_access_token_ttl_seconds" must be a non-negative integer/)
    await rejectsWith(createVerifier({ ...signature, issuerMetadataUrl: `${base}/missing` }), 'ERR_KEYS_UNAVAILABLE')
    await assert.rejects(createVerifier({ ...signature, issuerMetadataUrl: 'http://auth.example/.well-known/oauth-authorization-server' }), /must be an https URL/)
    const plain = await createVerifier({ ...signature, issuerMetadataUrl: `${base}/no-limits` })
    assert.equal(plain.issuerLimits(), null)
    await plain.close()
  })

  test('a cached verifier takes the greatest of what the metadata and the heartbeats advertise', async () => {
    const store = new MemoryStore()
    const auth = await tesseraFor(store) // heartbeats: 300 s lifetime, 10 s grace, no tolerance
    try {
      const cached = await createVerifier({ ...(await options()), mode: 'cached', store, issuerMetadataUrl: `${base}/limits` })
      assert.deepEqual(cached.issuerLimits(), LIMITS)
      await cached.close()
      const heartbeatsOnly = await createVerifier({ ...(await options()), mode: 'cached', store })
      assert.deepEqual(heartbeatsOnly.issuerLimits(), { accessTokenTtlSeconds: 300, clockToleranceSeconds: 0, refreshGraceSeconds: 10 })
      await heartbeatsOnly.close()
    } finally {
      await auth.close()
      await store.close()
    }
  })
})
