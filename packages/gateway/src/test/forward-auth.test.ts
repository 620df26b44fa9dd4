import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import Fastify from 'fastify'
import { createTessera, MemoryStore, SigningKeySet, StoreUnavailable, type Tessera } from '@tessera/core'
import { createVerifier, type Verifier } from '@tessera/verifier'
import { newDpopKey, proof } from '../../../../test/support/dpop.js'
import { waitFor } from '../../../../test/support/redis.js'
import { registerForwardAuth } from '../forward-auth.js'
import { buildGatewayApp } from '../gateway-app.js'

const CLAIM_HEADERS = { scope: 'X-Tessera-Scope', roles: 'X-Tessera-Roles', name: 'X-Tessera-Name', tenant: 'X-Tessera-Tenant', jti: 'X-Tessera-Token-Id' }

const ISSUER = 'https://auth.test'
const AUDIENCE = 'api'

describe('forward-auth gateway', () => {
  let store: MemoryStore
  let auth: Tessera
  let verifier: Verifier
  let app: Awaited<ReturnType<typeof buildGatewayApp>>

  before(async () => {
    store = new MemoryStore()
    auth = await createTessera({
      store,
      keys: await SigningKeySet.generate({ alg: 'ES256' }),
      issuer: ISSUER,
      audience: AUDIENCE,
      tokenKey: randomBytes(32),
      accessTokenTtlSeconds: 300,
      extraClaims: () => ({ scope: 'orders:read orders:write', roles: ['admin', 'ops'], name: 'Zoë\r\nX-Tessera-User: root' }),
    })
    verifier = await createVerifier({ mode: 'cached', keys: auth.keys, store, issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'] })
    app = await buildGatewayApp({ verifier, headers: { claims: CLAIM_HEADERS }, realm: 'api' })
  })

  after(async () => {
    await app.close()
    await verifier.close()
    await auth.close()
  })

  test('a live token gets 200 with every identity header, set by the gateway alone', async () => {
    const { accessToken, sessionId } = await auth.createSession({ userId: 'user-1' })
    const res = await app.inject({ method: 'GET', url: '/forward-auth', headers: { authorization: `Bearer ${accessToken}`, 'x-tessera-user': 'root' } })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['x-tessera-user'], 'user-1')
    assert.equal(res.headers['x-tessera-session'], sessionId)
    assert.equal(res.headers['x-tessera-scope'], 'orders:read orders:write')
    assert.equal(res.headers['x-tessera-roles'], 'admin ops')
    // A claim with CR/LF or non-ASCII text cannot add a header line: it is percent-encoded.
    assert.equal(res.headers['x-tessera-name'], encodeURIComponent('Zoë\r\nX-Tessera-User: root'))
    // A claim the token lacks still gets its header, empty, so a proxy that copies it overwrites a spoofed one.
    assert.equal(res.headers['x-tessera-tenant'], '')
    assert.match(String(res.headers['x-tessera-token-id']), /^[A-Za-z0-9_-]+$/)
    assert.equal(res.headers['cache-control'], 'no-store')
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
    assert.equal(res.body, '')
  })

  test('answers every method and every path under its own: Traefik (X-Forwarded-*) and Envoy (path prefix) calls', async () => {
    const { accessToken } = await auth.createSession({ userId: 'user-2' })
    const authorization = `Bearer ${accessToken}`
    const traefik = await app.inject({
      method: 'GET',
      url: '/forward-auth',
      headers: { authorization, 'x-forwarded-method': 'POST', 'x-forwarded-uri': '/orders?x=1', 'x-forwarded-host': 'api.test', 'x-forwarded-proto': 'https' },
    })
    assert.equal(traefik.statusCode, 200)
    for (const method of ['POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'] as const) {
      const envoy = await app.inject({ method, url: '/forward-auth/orders/42?expand=items', headers: { authorization, host: 'api.test', 'content-length': '0' } })
      assert.equal(envoy.statusCode, 200, method)
      assert.equal(envoy.headers['x-tessera-user'], 'user-2', method)
    }
  })

  test('a DPoP-bound token: the proof is checked against the original request as NGINX/Traefik (X-Forwarded-*) and Envoy (path prefix) pass it', async () => {
    const key = await newDpopKey()
    const login = await auth.createSession({ userId: 'dpop-user', dpop: { proof: await proof(key, 'POST', 'https://auth.test/auth/login'), method: 'POST', url: 'https://auth.test/auth/login' } })
    const token = login.accessToken
    const authorization = `DPoP ${token}`
    const forwarded = { 'x-forwarded-method': 'POST', 'x-forwarded-uri': '/orders/7?expand=items', 'x-forwarded-host': 'api.test', 'x-forwarded-proto': 'https' }
    const call = (dpop: string, headers: Record<string, string> = forwarded, url = '/forward-auth') =>
      app.inject({ method: 'GET', url, headers: { authorization, dpop, ...headers } })

    // The proof names the client's request, not the forward-auth call; the query is not part of htu.
    const ok = await call(await proof(key, 'POST', 'https://api.test/orders/7', { accessToken: token }))
    assert.equal(ok.statusCode, 200, ok.body)
    assert.equal(ok.headers['x-tessera-user'], 'dpop-user')
    const envoy = await app.inject({ method: 'DELETE', url: '/forward-auth/orders/7', headers: { authorization, host: 'api.test', 'content-length': '0', dpop: await proof(key, 'DELETE', 'http://api.test/orders/7', { accessToken: token }) } })
    assert.equal(envoy.statusCode, 200, envoy.body)

    const refused: [string, Promise<Awaited<ReturnType<typeof call>>>][] = [
      ['proof for another method', call(await proof(key, 'GET', 'https://api.test/orders/7', { accessToken: token }))],
      ['proof for another path', call(await proof(key, 'POST', 'https://api.test/orders/8', { accessToken: token }))],
      ['proof for another host', call(await proof(key, 'POST', 'https://evil.test/orders/7', { accessToken: token }))],
      ['proof for the forward-auth call itself', call(await proof(key, 'GET', 'http://localhost:80/forward-auth', { accessToken: token }), {})],
      ['proof by another key', call(await proof(await newDpopKey(), 'POST', 'https://api.test/orders/7', { accessToken: token }))],
      ['no proof', app.inject({ method: 'GET', url: '/forward-auth', headers: { authorization, ...forwarded } })],
    ]
    for (const [label, pending] of refused) {
      const res = await pending
      assert.equal(res.statusCode, 401, label)
      assert.match(String(res.headers['www-authenticate']), /^DPoP /, label)
    }
    const once = await proof(key, 'POST', 'https://api.test/orders/7', { accessToken: token })
    assert.equal((await call(once)).statusCode, 200)
    assert.equal((await call(once)).statusCode, 401, 'a replayed proof is refused')
    // A bound token presented as a bearer token is refused whatever else is sent.
    const bearer = await app.inject({ method: 'GET', url: '/forward-auth', headers: { authorization: `Bearer ${token}`, ...forwarded } })
    assert.equal(bearer.statusCode, 401)
  })

  test('no token: 401 with a bare Bearer (and DPoP) challenge; bad token: 401 invalid_token and problem+json', async () => {
    const none = await app.inject({ url: '/forward-auth', headers: { 'x-tessera-user': 'root' } })
    assert.equal(none.statusCode, 401)
    // The verifier accepts DPoP proofs too, so the challenge offers both schemes (RFC 9449 section 7.1).
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="api", DPoP realm="api", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"')
    assert.equal(none.headers['x-tessera-user'], undefined)
    assert.equal(none.json<{ code: string }>().code, 'ERR_ACCESS_TOKEN_MISSING')
    const bad = await app.inject({ url: '/forward-auth/x', headers: { authorization: 'Bearer not.a.token' } })
    assert.equal(bad.statusCode, 401)
    assert.match(String(bad.headers['www-authenticate']), /^Bearer realm="api", error="invalid_token"/)
    assert.match(String(bad.headers['content-type']), /^application\/problem\+json/)
    assert.equal(bad.json<{ code: string }>().code, 'ERR_ACCESS_TOKEN_INVALID')
    assert.ok(!bad.body.includes('not.a.token'))
    assert.equal(bad.headers['x-content-type-options'], 'nosniff')
  })

  test('a revoked session is refused once the revocation reaches the verifier', async () => {
    const { accessToken, sessionId } = await auth.createSession({ userId: 'user-3' })
    const authorization = `Bearer ${accessToken}`
    assert.equal((await app.inject({ url: '/forward-auth', headers: { authorization } })).statusCode, 200)
    await auth.revokeSession(sessionId)
    await waitFor(async () => (await app.inject({ url: '/forward-auth', headers: { authorization } })).statusCode === 401, 5000, 5)
    const res = await app.inject({ url: '/forward-auth', headers: { authorization } })
    assert.equal(res.json<{ code: string }>().code, 'ERR_SESSION_REVOKED')
  })

  test('health, readiness and metrics, outside the forward-auth path', async () => {
    // Longer than NGINX's upstream keepalive_timeout (60 s): docs/gateway.md relies on the proxy closing idle connections.
    assert.equal(app.server.keepAliveTimeout, 72_000)
    const health = await app.inject({ url: '/healthz' })
    assert.equal(health.statusCode, 200)
    assert.deepEqual(health.json(), { status: 'ok' })
    assert.equal(health.headers['x-content-type-options'], 'nosniff')
    const ready = await app.inject({ url: '/readyz' })
    assert.equal(ready.statusCode, 200)
    assert.deepEqual(ready.json(), { status: 'ready', checks: { revocation_state: true } })
    const metrics = await app.inject({ url: '/metrics' })
    assert.match(metrics.body, /tessera_gateway_decisions_total\{decision="allowed"\} [1-9]/)
    assert.match(metrics.body, /tessera_gateway_decisions_total\{decision="refused"\} [1-9]/)
    assert.match(metrics.body, /tessera_verifier_revocation_set_entries/)
    // Envoy prepends its prefix, so a client's /metrics arrives as /forward-auth/metrics and is decided, not served.
    assert.equal((await app.inject({ url: '/forward-auth/metrics' })).statusCode, 401)
  })

  test('when the verifier cannot decide the answer is 503, never a 2xx', async () => {
    const bare = Fastify()
    registerForwardAuth(bare, {
      verifier: {
        dpopAlgorithms: null,
        verifyMaybeSync() {
          throw new StoreUnavailable('revocation state is not current')
        },
      },
    })
    const sync = await bare.inject({ url: '/forward-auth', headers: { authorization: 'Bearer a.b.c' } })
    assert.equal(sync.statusCode, 503)
    assert.equal(sync.headers['retry-after'], '1')
    assert.equal(sync.json<{ code: string }>().code, 'ERR_STORE_UNAVAILABLE')
    const rejecting = Fastify()
    registerForwardAuth(rejecting, { verifier: { dpopAlgorithms: null, verifyMaybeSync: () => Promise.reject(new Error('socket closed')) } })
    const async = await rejecting.inject({ url: '/forward-auth', headers: { authorization: 'Bearer a.b.c' } })
    assert.equal(async.statusCode, 503)
    assert.equal(async.headers['x-tessera-user'], undefined)
  })

  test('refuses header settings that would let a claim steer the proxy', () => {
    const app = Fastify()
    assert.throws(() => registerForwardAuth(app, { verifier, headers: { claims: { scope: 'Authorization' } } }), /belongs to the proxy/)
    assert.throws(() => registerForwardAuth(app, { verifier, headers: { user: 'X-Same', session: 'x-same' } }), /distinct/)
    assert.throws(() => registerForwardAuth(app, { verifier, headers: { user: 'X Bad' } }), /header name/)
    assert.throws(() => registerForwardAuth(app, { verifier, path: 'forward/' }), /"path"/)
  })
})
