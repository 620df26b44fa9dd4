// DPoP through every adapter (issue 15): the attack table of RFC 9449 refusals,
// each answered alike by Fastify, Express, Hono and NestJS because they share
// one decision function. Good proofs come from panva's `dpop` client.
import assert from 'node:assert/strict'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import express from 'express'
import Fastify from 'fastify'
import { MemoryStore, SigningKeySet, type Tessera } from '@tessera/core'
import { craftProof, newDpopKey, proof, type KeyPair } from '../../../../../test/support/dpop.js'
import { type Verifier } from '../../verifier.js'
import { createVerifier } from '../../create-verifier.js'
import type { VerifierOptions } from '../../options.js'
import { AUDIENCE, ISSUER, tesseraFor } from '../../test/fixtures.js'
import { tesseraExpress } from '../express.js'
import { tesseraFastify } from '../fastify.js'
import { buildHono, buildNest, type RunningApp } from './more-apps.js'

async function buildFastify(verifier: Verifier, trustProxy = false): Promise<RunningApp> {
  const app = Fastify({ trustProxy })
  await app.register(tesseraFastify, { verifier })
  app.get('/me', async (request) => ({ userId: request.auth!.userId }))
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { url, close: () => app.close() }
}

async function buildExpress(verifier: Verifier): Promise<RunningApp> {
  const app = express()
  app.get('/me', tesseraExpress({ verifier }), (req, res) => {
    res.json({ userId: req.auth!.userId })
  })
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

const BUILDERS = [['fastify', buildFastify], ['express', buildExpress], ['hono', buildHono], ['nest', buildNest]] as const

interface Answer {
  status: number
  challenge: string | null
  nonce: string | null
  code: string | null
}

async function call(url: string, headers: Record<string, string>, method = 'GET'): Promise<Answer> {
  const response = await fetch(url, { method, headers })
  const body = (await response.json()) as { code?: string }
  return { status: response.status, challenge: response.headers.get('www-authenticate'), nonce: response.headers.get('dpop-nonce'), code: body.code ?? null }
}

async function started(options: Partial<VerifierOptions>, store: MemoryStore, keys: SigningKeySet): Promise<Verifier> {
  return createVerifier({ mode: 'cached', keys, issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], store, log: { blockMs: 100, maxStalenessMs: 300 }, ...options })
}

describe('DPoP through the Fastify, Express, Hono and NestJS adapters', () => {
  const store = new MemoryStore()
  let keys: SigningKeySet
  let tessera: Tessera
  const verifiers: Verifier[] = []
  const apps: { name: string; app: RunningApp }[] = []
  const closers: (() => Promise<void>)[] = []

  async function serve(verifier: Verifier): Promise<{ name: string; url: string }[]> {
    const out = []
    for (const [name, build] of BUILDERS) {
      const app = await build(verifier)
      closers.push(() => app.close())
      out.push({ name, url: `${app.url}/me` })
    }
    return out
  }

  async function boundLogin(key: KeyPair) {
    return tessera.createSession({ userId: 'alice', dpop: { proof: await proof(key, 'POST', 'https://auth.test/auth/login'), method: 'POST', url: 'https://auth.test/auth/login' } })
  }

  before(async () => {
    keys = await SigningKeySet.generate({ alg: 'ES256' })
    tessera = await tesseraFor(store, keys)
  })
  after(async () => {
    for (const close of closers) await close()
    for (const v of verifiers) await v.close()
    await store.close()
    void apps
  })

  for (const mode of ['signature', 'strict', 'cached'] as const) {
    test(`${mode} mode: a stock client's bound token works with its proof; a replay, and the token as Bearer, are refused`, async () => {
      const verifier = await started({ mode, ...(mode === 'signature' ? {} : { store }) }, store, keys)
      verifiers.push(verifier)
      const key = await newDpopKey()
      const login = await boundLogin(key)
      for (const { name, url } of await serve(verifier)) {
        const p = await proof(key, 'GET', url, { accessToken: login.accessToken })
        const ok = await call(url, { authorization: `DPoP ${login.accessToken}`, dpop: p })
        assert.equal(ok.status, 200, name)
        const replay = await call(url, { authorization: `DPoP ${login.accessToken}`, dpop: p })
        assert.deepEqual([replay.status, replay.code], [401, 'ERR_DPOP_PROOF_INVALID'], name)
        assert.match(replay.challenge ?? '', /^DPoP error="invalid_dpop_proof", error_description="DPoP proof was already used", algs="ES256 /, name)
        const bearer = await call(url, { authorization: `Bearer ${login.accessToken}` })
        assert.deepEqual([bearer.status, bearer.code], [401, 'ERR_DPOP_KEY_MISMATCH'], name)
        assert.match(bearer.challenge ?? '', /^DPoP error="invalid_token"/, name)
      }
    })
  }

  test('the attack table: each request refused with the right status, code and challenge, alike on every adapter', async () => {
    const verifier = await started({ store }, store, keys)
    verifiers.push(verifier)
    const servers = await serve(verifier)
    const key = await newDpopKey()
    const login = await boundLogin(key)
    const token = login.accessToken
    const bearer = await tessera.createSession({ userId: 'bob' })
    const now = Math.floor(Date.now() / 1000)
    type Row = { name: string; headers: (url: string) => Promise<Record<string, string>>; code: string; error: string }
    const rows: Row[] = [
      { name: 'proof for another method', headers: async (url) => ({ authorization: `DPoP ${token}`, dpop: await proof(key, 'POST', url, { accessToken: token }) }), code: 'ERR_DPOP_PROOF_INVALID', error: 'invalid_dpop_proof' },
      { name: 'proof for another URL', headers: async (url) => ({ authorization: `DPoP ${token}`, dpop: await proof(key, 'GET', `${url}/other`, { accessToken: token }) }), code: 'ERR_DPOP_PROOF_INVALID', error: 'invalid_dpop_proof' },
      { name: 'proof too old', headers: async (url) => ({ authorization: `DPoP ${token}`, dpop: await craftProof({ key, url, accessToken: token, iatSeconds: now - 600 }) }), code: 'ERR_DPOP_PROOF_INVALID', error: 'invalid_dpop_proof' },
      { name: 'proof from the future', headers: async (url) => ({ authorization: `DPoP ${token}`, dpop: await craftProof({ key, url, accessToken: token, iatSeconds: now + 600 }) }), code: 'ERR_DPOP_PROOF_INVALID', error: 'invalid_dpop_proof' },
      { name: 'proof signed by another key', headers: async (url) => ({ authorization: `DPoP ${token}`, dpop: await proof(await newDpopKey(), 'GET', url, { accessToken: token }) }), code: 'ERR_DPOP_KEY_MISMATCH', error: 'invalid_token' },
      { name: 'ath of another token', headers: async (url) => ({ authorization: `DPoP ${token}`, dpop: await proof(key, 'GET', url, { accessToken: bearer.accessToken }) }), code: 'ERR_DPOP_PROOF_INVALID', error: 'invalid_dpop_proof' },
      { name: 'bound token without a proof', headers: async () => ({ authorization: `DPoP ${token}` }), code: 'ERR_DPOP_PROOF_INVALID', error: 'invalid_dpop_proof' },
      { name: 'bearer token sent with the DPoP scheme', headers: async (url) => ({ authorization: `DPoP ${bearer.accessToken}`, dpop: await proof(key, 'GET', url, { accessToken: bearer.accessToken }) }), code: 'ERR_ACCESS_TOKEN_INVALID', error: 'invalid_token' },
      { name: 'HS256 proof', headers: async (url) => ({ authorization: `DPoP ${token}`, dpop: await craftProof({ url, accessToken: token, alg: 'HS256' }) }), code: 'ERR_DPOP_PROOF_INVALID', error: 'invalid_dpop_proof' },
      { name: 'unsigned (none) proof', headers: async (url) => ({ authorization: `DPoP ${token}`, dpop: await craftProof({ url, accessToken: token, alg: 'none' }) }), code: 'ERR_DPOP_PROOF_INVALID', error: 'invalid_dpop_proof' },
      { name: 'private key in the jwk header', headers: async (url) => ({ authorization: `DPoP ${token}`, dpop: await craftProof({ url, accessToken: token, privateJwk: true }) }), code: 'ERR_DPOP_PROOF_INVALID', error: 'invalid_dpop_proof' },
      { name: 'oversized proof', headers: async (url) => ({ authorization: `DPoP ${token}`, dpop: await craftProof({ key, url, accessToken: token, padding: 5000 }) }), code: 'ERR_DPOP_PROOF_INVALID', error: 'invalid_dpop_proof' },
    ]
    for (const row of rows) {
      const answers: Answer[] = []
      for (const server of servers) {
        const answer = await call(server.url, await row.headers(server.url))
        const label = `${server.name}: ${row.name}`
        assert.equal(answer.status, 401, label)
        assert.equal(answer.code, row.code, label)
        assert.match(answer.challenge ?? '', new RegExp(`^DPoP error="${row.error}", error_description="[^"]+", algs="[A-Za-z0-9 ]+"$`), label)
        answers.push(answer)
      }
      for (const answer of answers) assert.deepEqual(answer, answers[0], row.name)
    }
    // And the same key's good proof still works after all that.
    for (const server of servers) assert.equal((await call(server.url, { authorization: `DPoP ${token}`, dpop: await proof(key, 'GET', server.url, { accessToken: token }) })).status, 200)
  })

  test('with nonces on, a proof without one gets use_dpop_nonce and a DPoP-Nonce header; the retry passes', async () => {
    const verifier = await started({ store, dpop: { nonce: { key: 'resource-server nonce key, 32 bytes+' } } }, store, keys)
    verifiers.push(verifier)
    const key = await newDpopKey()
    const login = await boundLogin(key)
    for (const { name, url } of await serve(verifier)) {
      const first = await call(url, { authorization: `DPoP ${login.accessToken}`, dpop: await proof(key, 'GET', url, { accessToken: login.accessToken }) })
      assert.deepEqual([first.status, first.code], [401, 'ERR_DPOP_NONCE_REQUIRED'], name)
      assert.match(first.challenge ?? '', /^DPoP error="use_dpop_nonce"/, name)
      assert.ok(first.nonce, name)
      const retry = await call(url, { authorization: `DPoP ${login.accessToken}`, dpop: await proof(key, 'GET', url, { accessToken: login.accessToken, nonce: first.nonce }) })
      assert.equal(retry.status, 200, name)
    }
  })

  test('with DPoP required, a bearer token is refused; without a token the challenge names both schemes', async () => {
    const verifier = await started({ store, dpop: { required: true } }, store, keys)
    verifiers.push(verifier)
    const bearer = await tessera.createSession({ userId: 'carol' })
    for (const { name, url } of await serve(verifier)) {
      const refused = await call(url, { authorization: `Bearer ${bearer.accessToken}` })
      assert.deepEqual([refused.status, refused.code], [401, 'ERR_DPOP_PROOF_INVALID'], name)
      const none = await call(url, {})
      assert.match(none.challenge ?? '', /^Bearer, DPoP algs="ES256 /, name)
    }
  })

  test('behind a trusted proxy the proof names the public URL, a proof used on one instance is a replay on another, and an untrusted forwarded host is not believed', async () => {
    const verifier = await started({ store }, store, keys)
    const sibling = await started({ store }, store, keys)
    verifiers.push(verifier, sibling)
    const key = await newDpopKey()
    const login = await boundLogin(key)
    const trusted = await buildFastify(verifier, true)
    const other = await buildFastify(sibling, true)
    const direct = await buildFastify(verifier, false)
    closers.push(() => trusted.close(), () => other.close(), () => direct.close())
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example' }
    const publicProof = () => proof(key, 'GET', 'https://api.example/me', { accessToken: login.accessToken })
    const used = await publicProof()
    assert.equal((await call(`${trusted.url}/me`, { authorization: `DPoP ${login.accessToken}`, dpop: used, ...forwarded })).status, 200)
    // Two instances behind one load balancer share the replay cache (the store): the copy is refused on the other.
    const replay = await call(`${other.url}/me`, { authorization: `DPoP ${login.accessToken}`, dpop: used, ...forwarded })
    assert.deepEqual([replay.status, replay.code], [401, 'ERR_DPOP_PROOF_INVALID'])
    const fooled = await call(`${direct.url}/me`, { authorization: `DPoP ${login.accessToken}`, dpop: await publicProof(), ...forwarded })
    assert.deepEqual([fooled.status, fooled.code], [401, 'ERR_DPOP_PROOF_INVALID'])
  })
})
