import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { AuthError, MemoryStore, SigningKeySet } from '@tessera/core'
import { RemoteJwksKeySource } from '../remote-jwks.js'
import { createVerifier } from '../create-verifier.js'
import { AUDIENCE, ISSUER, rejectsWith, tesseraFor } from './fixtures.js'

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server; hits: () => number }> {
  let hits = 0
  const server = createServer((req, res) => {
    hits++
    handler!(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`, server, hits: () => hits }
}

test('verifies with keys from a JWKS URL, waits for one fetch on an unknown kid inside the cooldown instead of refusing, and drops a withdrawn key', async (t) => {
  const keys = await SigningKeySet.generate()
  let published = keys
  const jwks = await serve((_req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(published.publicJwks()))
  })
  t.after(() => jwks.server.close())
  const store = new MemoryStore()
  t.after(() => store.close())
  const tessera = await tesseraFor(store, keys)
  let now = Date.now()
  const verifier = await createVerifier({
    mode: 'signature',
    keys: { jwksUrl: jwks.url, cooldownMs: 300, timeoutMs: 3000 },
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['ES256'],
    clock: { nowMs: () => now },
  })
  const first = await tessera.createSession({ userId: 'jwks' })
  assert.equal((await verifier.verify(first.accessToken)).userId, 'jwks')
  assert.equal(jwks.hits(), 1)

  // A new signing key right after the load (inside the cooldown): its first token waits for one fetch and passes.
  await keys.rotate({ retireAfterSeconds: 600, nowMs: now })
  const second = await tessera.createSession({ userId: 'jwks' })
  assert.equal((await verifier.verify(second.accessToken)).userId, 'jwks')
  assert.equal(jwks.hits(), 2)
  // Junk kids arriving together share one fetch.
  const other = await SigningKeySet.generate()
  const stranger = await tesseraFor(store, other)
  const junk = await Promise.all(Array.from({ length: 5 }, async () => (await stranger.createSession({ userId: 'x' })).accessToken))
  await Promise.all(junk.map((token) => rejectsWith(verifier.verify(token), 'ERR_ACCESS_TOKEN_INVALID')))
  assert.equal(jwks.hits(), 3, 'concurrent unknown kids share one fetch')

  // The old key is withdrawn from the JWKS: after the next fetch, its cached token no longer verifies.
  published = await SigningKeySet.fromRecords(keys.toJSON().keys.filter((k) => k.retiresAtMs === null))
  now += 1001
  await rejectsWith(verifier.verify((await stranger.createSession({ userId: 'x' })).accessToken), 'ERR_ACCESS_TOKEN_INVALID')
  assert.equal(jwks.hits(), 4)
  await rejectsWith(verifier.verify(first.accessToken), 'ERR_ACCESS_TOKEN_INVALID')
  assert.equal((await verifier.verify(second.accessToken)).userId, 'jwks')
  await verifier.close()
})

test('a JWKS server that does not answer fails the load within the timeout', async (t) => {
  const silent = await serve(() => {
    // never answers
  })
  t.after(() => {
    silent.server.closeAllConnections()
    silent.server.close()
  })
  const started = Date.now()
  await assert.rejects(RemoteJwksKeySource.load({ url: silent.url, algorithms: ['ES256'], timeoutMs: 200 }), /abort|timeout/i)
  assert.ok(Date.now() - started < 2000)
})

test('an unreachable JWKS URL fails the load with an AuthError (ERR_KEYS_UNAVAILABLE), not a bare TypeError, and names no credentials', async () => {
  const closed = await serve((_req, res) => res.end())
  const url = new URL(closed.url)
  await new Promise<void>((resolve) => closed.server.close(() => resolve()))
  url.username = 'user'
  url.password = 'secret-in-url'
  await assert.rejects(RemoteJwksKeySource.load({ url, algorithms: ['ES256'], timeoutMs: 2000 }), (err: unknown) => {
    assert.ok(err instanceof AuthError, `an AuthError, got ${String(err)}`)
    assert.equal(err.code, 'ERR_KEYS_UNAVAILABLE')
    assert.match(err.message, /^JWKS at http:\/\/127\.0\.0\.1:\d+\/jwks could not be fetched/)
    assert.doesNotMatch(err.message, /secret-in-url/)
    return true
  })
  const failing = await serve((_req, res) => {
    res.statusCode = 500
    res.end()
  })
  try {
    await assert.rejects(RemoteJwksKeySource.load({ url: failing.url, algorithms: ['ES256'] }), { code: 'ERR_KEYS_UNAVAILABLE', message: /answered 500/ })
  } finally {
    failing.server.close()
  }
})

test('refuses plain http to a non-loopback host, an oversized or malformed JWKS (ERR_KEYS_UNAVAILABLE), and stale keys past the hard limit', async (t) => {
  await assert.rejects(RemoteJwksKeySource.load({ url: 'http://auth.example/jwks', algorithms: ['ES256'] }), /https/)
  const keys = await SigningKeySet.generate()
  let body = JSON.stringify(keys.publicJwks())
  const jwks = await serve((_req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(body)
  })
  t.after(() => jwks.server.close())
  let now = Date.now()
  const source = await RemoteJwksKeySource.load({ url: jwks.url, algorithms: ['ES256'], maxBodyBytes: 4096, maxStaleMs: 60_000, maxAgeMs: 10_000, cooldownMs: 0, nowMs: () => now })
  const kid = keys.keyIds()[0]!
  assert.ok(source.get(kid, now))
  body = JSON.stringify({ keys: [...keys.publicJwks().keys, { kty: 'oct', k: 'x'.repeat(8000) }] })
  await assert.rejects(RemoteJwksKeySource.load({ url: jwks.url, algorithms: ['ES256'], maxBodyBytes: 4096 }), { code: 'ERR_KEYS_UNAVAILABLE' })
  body = 'not json'
  await assert.rejects(RemoteJwksKeySource.load({ url: jwks.url, algorithms: ['ES256'] }), { code: 'ERR_KEYS_UNAVAILABLE' })
  now += 61_000
  assert.throws(() => source.get(kid, now), { code: 'ERR_KEYS_UNAVAILABLE' })
})

test('a JWKS body sent without a Content-Length is cut off at the size cap while it streams, not read to its end', async (t) => {
  const total = 64 * 1024 * 1024
  let sent = 0
  let closed!: () => void
  const serverClosed = new Promise<void>((resolve) => (closed = resolve))
  const jwks = await serve((_req, res) => {
    res.setHeader('content-type', 'application/json')
    res.once('close', () => closed())
    const chunk = Buffer.alloc(16 * 1024, 0x20)
    // Chunked (no length declared), honouring back-pressure, until all 64 MiB are out or the client hangs up.
    const pump = () => {
      while (sent < total && !res.destroyed) {
        sent += chunk.length
        if (!res.write(chunk)) return void res.once('drain', pump)
      }
      if (!res.destroyed) res.end()
    }
    res.write('{"keys":[')
    pump()
  })
  t.after(() => jwks.server.close())
  await assert.rejects(RemoteJwksKeySource.load({ url: jwks.url, algorithms: ['ES256'], maxBodyBytes: 4096 }), { code: 'ERR_KEYS_UNAVAILABLE' })
  await serverClosed
  assert.ok(sent < total / 4, `the client read on: ${sent} of ${total} bytes were written before it hung up`)
})
