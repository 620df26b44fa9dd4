import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { after, before, describe, test } from 'node:test'
import express from 'express'
import Fastify, { type FastifyInstance } from 'fastify'
import { MemoryStore, SigningKeySet, type Tessera } from '@tessera/core'
import { type Verifier } from '../../verifier.js'
import { createVerifier } from '../../create-verifier.js'
import { waitFor } from '../../../../../test/support/redis.js'
import { AUDIENCE, ISSUER, badTokens, tesseraFor } from '../../test/fixtures.js'
import { tesseraExpress } from '../express.js'
import { tesseraFastify } from '../fastify.js'
import { buildHono, buildNest } from './more-apps.js'

interface Answer {
  status: number
  challenge: string | null
  contentType: string | null
  body: unknown
}

async function buildFastify(verifier: Verifier): Promise<{ url: string; close(): Promise<void> }> {
  const app: FastifyInstance = Fastify()
  await app.register(tesseraFastify, { verifier })
  app.get('/me', async (request) => ({ userId: request.auth!.userId }))
  app.get('/open', { config: { tessera: false } }, async (request) => ({ open: true, auth: request.auth }))
  app.get('/maybe', { config: { tessera: 'optional' } }, async (request) => ({ userId: request.auth?.userId ?? null }))
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { url, close: () => app.close() }
}

async function buildExpress(verifier: Verifier): Promise<{ url: string; close(): Promise<void> }> {
  const app = express()
  app.get('/me', tesseraExpress({ verifier }), (req, res) => {
    res.json({ userId: req.auth!.userId })
  })
  app.get('/open', (req, res) => {
    res.json({ open: true, auth: req.auth ?? null })
  })
  app.get('/maybe', tesseraExpress({ verifier, optional: true }), (req, res) => {
    res.json({ userId: req.auth?.userId ?? null })
  })
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        // fetch keeps connections alive; without this close() waits for them to time out.
        server.closeAllConnections()
      }),
  }
}

/** RFC 6750 and RFC 9449 section 7.1: bearer and DPoP are both accepted, so both are challenged. */
const BOTH_SCHEMES = /^Bearer, DPoP algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"$/

async function ask(base: string, path: string, authorization?: string): Promise<Answer> {
  const response = await fetch(base + path, { headers: authorization === undefined ? {} : { authorization } })
  const text = await response.text()
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate'),
    contentType: response.headers.get('content-type')?.split(';')[0] ?? null,
    body: text ? JSON.parse(text) : null,
  }
}

for (const mode of ['signature', 'strict', 'cached'] as const) describe(`Fastify, Express, Hono and NestJS adapters answer alike (${mode} mode)`, () => {
  let keys: SigningKeySet
  let tessera: Tessera
  let store: MemoryStore
  let verifier: Verifier
  let broken: Verifier
  const servers: { name: string; url: string; brokenUrl: string }[] = []
  const closers: (() => Promise<void>)[] = []

  before(async () => {
    store = new MemoryStore()
    keys = await SigningKeySet.generate()
    tessera = await tesseraFor(store, keys)
    const base = { mode, keys, issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256' as const], log: { blockMs: 100, maxStalenessMs: 300 } }
    verifier = await createVerifier({ ...base, store })
    // A store that cannot answer: strict checks fail at once; cached mode cannot load its log, so it is built on a
    // working store and then told to refuse (onStale: 'fail') once that store stops answering.
    const down = Object.create(store) as MemoryStore
    let failing = mode !== 'cached'
    const refuse = () => Promise.reject(new Error('connection refused'))
    down.checkAccessToken = (request) => (failing ? refuse() : store.checkAccessToken(request))
    down.readRevocations = (after, options) => (failing ? refuse() : store.readRevocations(after, options))
    down.revocationLogInfo = () => (failing ? refuse() : store.revocationLogInfo())
    broken = await createVerifier({ ...base, store: down, onStale: 'fail', log: { blockMs: 20, maxStalenessMs: 50, retryMs: 10 } })
    failing = true
    for (const [name, build] of [['fastify', buildFastify], ['express', buildExpress], ['hono', buildHono], ['nest', buildNest]] as const) {
      const main = await build(verifier)
      const failing = await build(broken)
      closers.push(() => main.close(), () => failing.close())
      servers.push({ name, url: main.url, brokenUrl: failing.url })
    }
  })
  after(async () => {
    for (const close of closers) await close()
    await verifier.close()
    await broken.close()
    await store.close()
  })

  test('the same table of cases gives the same status, challenge, content type and body on all', async () => {
    const good = await tessera.createSession({ userId: 'alice' })
    const revoked = await tessera.createSession({ userId: 'bob' })
    await tessera.revokeSession(revoked.sessionId)
    if (mode === 'cached') {
      await waitFor(() => verifier.verify(revoked.accessToken).then(() => false, () => true), 2000, 2)
      // The broken verifier must be past its staleness bound before the 'store down' case.
      await waitFor(() => (broken.metrics().timeSinceLastLogContactMs ?? 0) > 50, 2000, 5)
    }
    const invalid = { status: 401, challenge: /^Bearer error="invalid_token", error_description="[^"]+"$/, contentType: 'application/problem+json' }
    const cases: { name: string; path: string; auth?: string; broken?: boolean; status: number; challenge?: RegExp | null; code?: string; body?: unknown }[] = [
      { name: 'no token', path: '/me', status: 401, challenge: BOTH_SCHEMES, code: 'ERR_ACCESS_TOKEN_MISSING' },
      { name: 'basic auth', path: '/me', auth: 'Basic YWxpY2U6c2VjcmV0', status: 401, challenge: BOTH_SCHEMES, code: 'ERR_ACCESS_TOKEN_MISSING' },
      { name: 'empty bearer', path: '/me', auth: 'Bearer ', ...invalid, code: 'ERR_ACCESS_TOKEN_INVALID' },
      { name: 'garbage bearer', path: '/me', auth: 'Bearer not.a.token', ...invalid, code: 'ERR_ACCESS_TOKEN_INVALID' },
      { name: 'huge bearer', path: '/me', auth: `Bearer ${'a'.repeat(9000)}`, ...invalid, code: 'ERR_ACCESS_TOKEN_INVALID' },
      { name: 'good token', path: '/me', auth: `Bearer ${good.accessToken}`, status: 200, challenge: null, body: { userId: 'alice' } },
      { name: 'lower-case scheme', path: '/me', auth: `bearer ${good.accessToken}`, status: 200, challenge: null, body: { userId: 'alice' } },
      mode === 'signature'
        ? { name: 'revoked session (signature mode does not ask)', path: '/me', auth: `Bearer ${revoked.accessToken}`, status: 200, challenge: null, body: { userId: 'bob' } }
        : { name: 'revoked session', path: '/me', auth: `Bearer ${revoked.accessToken}`, ...invalid, code: 'ERR_SESSION_REVOKED' },
      mode === 'signature'
        ? { name: 'store down (signature mode does not ask)', path: '/me', auth: `Bearer ${good.accessToken}`, broken: true, status: 200, challenge: null, body: { userId: 'alice' } }
        : { name: 'store down', path: '/me', auth: `Bearer ${good.accessToken}`, broken: true, status: 503, challenge: null, code: 'ERR_STORE_UNAVAILABLE' },
      { name: 'opted-out route', path: '/open', status: 200, challenge: null, body: { open: true, auth: null } },
      { name: 'optional route, no token', path: '/maybe', status: 200, challenge: null, body: { userId: null } },
      { name: 'optional route, good token', path: '/maybe', auth: `Bearer ${good.accessToken}`, status: 200, challenge: null, body: { userId: 'alice' } },
      { name: 'optional route, bad token', path: '/maybe', auth: 'Bearer x.y.z', ...invalid, code: 'ERR_ACCESS_TOKEN_INVALID' },
    ]
    for (const bad of await badTokens(keys, good.accessToken)) {
      cases.push({ name: bad.name, path: '/me', auth: `Bearer ${bad.token}`, ...invalid, code: bad.code })
    }
    for (const c of cases) {
      const answers: Answer[] = []
      for (const server of servers) {
        const answer = await ask(c.broken ? server.brokenUrl : server.url, c.path, c.auth)
        const label = `${server.name}: ${c.name}`
        assert.equal(answer.status, c.status, label)
        if (c.challenge === null) assert.equal(answer.challenge, null, label)
        else if (c.challenge) assert.match(answer.challenge ?? '', c.challenge, label)
        if (c.code) {
          assert.equal(answer.contentType, 'application/problem+json', label)
          const body = answer.body as { code: string; status: number; type: string; title: string; detail: string }
          assert.equal(body.code, c.code, label)
          assert.equal(body.status, c.status, label)
          assert.ok(body.type && body.title && body.detail, label)
          if (c.auth && c.auth.length > 20) assert.ok(!JSON.stringify(body).includes(c.auth.slice(7, 40)), `${label}: token echoed`)
        }
        if (c.body !== undefined) assert.deepEqual(answer.body, c.body, label)
        answers.push(answer)
      }
      for (const [i, answer] of answers.entries()) assert.deepEqual(answer, answers[0], `${servers[i]!.name} and fastify differ on: ${c.name}`)
    }
  })

  test('NestJS @RequiredClaims() gives the claims on a protected route (/me above) and fails a route without claims with 500, not a null', async () => {
    const nest = servers.find((s) => s.name === 'nest')!
    const good = await tessera.createSession({ userId: 'carol' })
    assert.equal((await ask(nest.url, '/miswired')).status, 500)
    assert.equal((await ask(nest.url, '/miswired', `Bearer ${good.accessToken}`)).status, 500, 'an open route has no claims, even with a token')
  })
})
