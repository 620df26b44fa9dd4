// DPoP on the server's own routes with stock clients (issue 15): panva's
// `dpop` makes the sign-in proof, `oauth4webapi` refreshes at /oauth2/token
// and calls the protected routes, revocation ends it. Then the token-endpoint
// refusals: a bad proof, a missing nonce, a stolen bound refresh token.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import * as oauth from 'oauth4webapi'
import { calculateThumbprint, craftProof, newDpopKey, proof, type KeyPair } from '../../../../../test/support/dpop.js'
import { PASSWORD, bearer, problemOf, testSchema, testServer, uniqueEmail, type TestServer } from './helpers.js'

const CLIENT_SECRET = 'introspection-secret-1234'

describe('DPoP on the auth server', () => {
  let schema: Awaited<ReturnType<typeof testSchema>>
  const servers: TestServer[] = []
  let server: TestServer
  let base: string
  let as: oauth.AuthorizationServer
  const client: oauth.Client = { client_id: 'web' }
  const insecure = { [oauth.allowInsecureRequests]: true }

  async function start(auth: Parameters<typeof testServer>[0]['auth'] = {}): Promise<{ server: TestServer; base: string }> {
    const made = await testServer({ schema: schema.schema, redis: true, auth, app: { clients: new Map([['rs', CLIENT_SECRET]]) } })
    servers.push(made)
    const address = await made.app.listen({ port: 0, host: '127.0.0.1' })
    return { server: made, base: address }
  }

  async function register(app: TestServer, email = uniqueEmail('dpop')): Promise<string> {
    const registered = await app.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } })
    assert.equal(registered.statusCode, 202)
    return email
  }

  async function login(at: string, email: string, key: KeyPair | null, extra: Record<string, string> = {}): Promise<Response> {
    const url = `${at}/auth/login`
    const headers: Record<string, string> = { 'content-type': 'application/json', ...extra }
    if (key) headers.dpop = await proof(key, 'POST', url, extra['x-nonce'] ? { nonce: extra['x-nonce'] } : {})
    return fetch(url, { method: 'POST', headers, body: JSON.stringify({ email, password: PASSWORD }) })
  }

  before(async () => {
    schema = await testSchema()
    ;({ server, base } = await start())
    as = { issuer: 'https://auth.test', token_endpoint: `${base}/oauth2/token`, revocation_endpoint: `${base}/oauth2/revoke` }
  })
  after(async () => {
    for (const s of servers) await s.close()
    await schema.drop()
  })

  test('a stock client signs in with a proof, calls a protected route, refreshes at /oauth2/token and revokes', async () => {
    const key = await newDpopKey()
    const email = await register(server)
    const signIn = await login(base, email, key)
    assert.equal(signIn.status, 200)
    const tokens = (await signIn.json()) as { access_token: string; refresh_token: string; token_type: string; session_id: string }
    assert.equal(tokens.token_type, 'DPoP')
    const DPoP = oauth.DPoP(client, key)
    const me = await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(`${base}/auth/me`), undefined, undefined, { DPoP, ...insecure })
    assert.equal(me.status, 200)
    assert.equal(((await me.json()) as { session_id: string }).session_id, tokens.session_id)
    // The same token as Bearer is refused: it is useless without the key.
    const asBearer = await fetch(`${base}/auth/me`, { headers: bearer(tokens.access_token) })
    assert.equal(asBearer.status, 401)
    assert.match(asBearer.headers.get('www-authenticate') ?? '', /^DPoP error="invalid_token"/)
    const refreshed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token, { DPoP, ...insecure }))
    assert.equal(refreshed.token_type, 'dpop')
    // Introspection and metadata say what the token is bound to and what proofs are accepted.
    const introspected = await server.app.inject({
      method: 'POST',
      url: '/oauth2/introspect',
      headers: { authorization: `Basic ${Buffer.from(`rs:${CLIENT_SECRET}`).toString('base64')}` },
      payload: { token: refreshed.access_token },
    })
    const body = introspected.json<{ active: boolean; token_type: string; cnf: { jkt: string } }>()
    assert.deepEqual([body.active, body.token_type, body.cnf], [true, 'DPoP', { jkt: await calculateThumbprint(key.publicKey) }])
    const metadata = (await server.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json()
    assert.deepEqual(metadata.dpop_signing_alg_values_supported, ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'])
    const revoked = await oauth.revocationRequest(as, client, oauth.None(), refreshed.refresh_token!, insecure)
    assert.equal(revoked.status, 200)
    // oauth4webapi throws on a challenge: the revoked session's token is refused.
    await assert.rejects(oauth.protectedResourceRequest(refreshed.access_token, 'GET', new URL(`${base}/auth/me`), undefined, undefined, { DPoP, ...insecure }), (err: unknown) => {
      assert.equal((err as { status?: number }).status, 401)
      return true
    })
  })

  test('the JSON refresh route takes a proof too; a bound refresh token with another key is theft: 401 and the session is gone', async () => {
    const key = await newDpopKey()
    const tokens = (await (await login(base, await register(server), key)).json()) as { access_token: string; refresh_token: string }
    const url = `${base}/auth/refresh`
    const json = { 'content-type': 'application/json' }
    const ok = await fetch(url, { method: 'POST', headers: { ...json, dpop: await proof(key, 'POST', url) }, body: JSON.stringify({ refresh_token: tokens.refresh_token }) })
    assert.equal(ok.status, 200)
    const next = (await ok.json()) as { refresh_token: string; token_type: string }
    assert.equal(next.token_type, 'DPoP')
    const stolen = await fetch(url, { method: 'POST', headers: { ...json, dpop: await proof(await newDpopKey(), 'POST', url) }, body: JSON.stringify({ refresh_token: next.refresh_token }) })
    assert.equal(stolen.status, 401)
    assert.equal(((await stolen.json()) as { code: string }).code, 'ERR_DPOP_KEY_MISMATCH')
    const owner = await fetch(url, { method: 'POST', headers: { ...json, dpop: await proof(key, 'POST', url) }, body: JSON.stringify({ refresh_token: next.refresh_token }) })
    assert.equal(((await owner.json()) as { code: string }).code, 'ERR_SESSION_REVOKED')
  })

  test('/oauth2/token: a bad proof is 400 invalid_dpop_proof; a bound refresh token without a proof is invalid_grant and revokes the session', async () => {
    const key = await newDpopKey()
    const tokens = (await (await login(base, await register(server), key)).json()) as { refresh_token: string; access_token: string }
    const form = (refreshToken: string) => new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'web' })
    const url = `${base}/oauth2/token`
    const bad = await fetch(url, { method: 'POST', headers: { dpop: await craftProof({ method: 'POST', url, alg: 'HS256' }) }, body: form(tokens.refresh_token) })
    assert.equal(bad.status, 400)
    assert.equal(((await bad.json()) as { error: string }).error, 'invalid_dpop_proof')
    const noProof = await fetch(url, { method: 'POST', body: form(tokens.refresh_token) })
    assert.equal(noProof.status, 400)
    assert.equal(((await noProof.json()) as { error: string }).error, 'invalid_grant')
    const me = await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) })
    assert.equal(me.statusCode, 401)
  })

  test('with nonces on, sign-in without one is 400 use_dpop_nonce with a DPoP-Nonce; the stock client retries at /oauth2/token by itself', async () => {
    const { server: nonced, base: at } = await start({ dpop: { nonce: { key: 'server nonce key shared by instances' } } })
    const key = await newDpopKey()
    const email = await register(nonced)
    const first = await login(at, email, key)
    assert.equal(first.status, 400)
    assert.equal(((await first.json()) as { code: string }).code, 'ERR_DPOP_NONCE_REQUIRED')
    const nonce = first.headers.get('dpop-nonce')
    assert.ok(nonce)
    const second = await login(at, email, key, { 'x-nonce': nonce })
    assert.equal(second.status, 200)
    assert.ok(second.headers.get('dpop-nonce'))
    const tokens = (await second.json()) as { refresh_token: string }
    const server2 = { ...as, token_endpoint: `${at}/oauth2/token` }
    const DPoP = oauth.DPoP(client, key)
    let response = await oauth.refreshTokenGrantRequest(server2, client, oauth.None(), tokens.refresh_token, { DPoP, ...insecure })
    let refreshed: oauth.TokenEndpointResponse
    try {
      refreshed = await oauth.processRefreshTokenResponse(server2, client, response)
    } catch (err) {
      // A client that never saw this server's nonce meets use_dpop_nonce once, as RFC 9449 section 8 intends.
      assert.ok(oauth.isDPoPNonceError(err))
      response = await oauth.refreshTokenGrantRequest(server2, client, oauth.None(), tokens.refresh_token, { DPoP, ...insecure })
      refreshed = await oauth.processRefreshTokenResponse(server2, client, response)
    }
    assert.equal(refreshed.token_type, 'dpop')
  })

  test('GET /auth/sessions says which sessions are bound to a DPoP key', async () => {
    const key = await newDpopKey()
    const email = await register(server)
    const bound = (await (await login(base, email, key)).json()) as { access_token: string; session_id: string }
    const plain = (await (await login(base, email, null)).json()) as { access_token: string; session_id: string }
    const url = `${base}/auth/sessions`
    const listed = await fetch(url, { headers: { authorization: `DPoP ${bound.access_token}`, dpop: await proof(key, 'GET', url, { accessToken: bound.access_token }) } })
    assert.equal(listed.status, 200)
    const sessions = ((await listed.json()) as { sessions: { session_id: string; dpop_bound: boolean; current: boolean }[] }).sessions
    const byId = new Map(sessions.map((s) => [s.session_id, s]))
    assert.deepEqual(byId.get(bound.session_id), { ...byId.get(bound.session_id), dpop_bound: true, current: true })
    assert.deepEqual(byId.get(plain.session_id), { ...byId.get(plain.session_id), dpop_bound: false, current: false })
  })

  test('with DPoP required, a sign-in without a proof is refused with 400', async () => {
    const { server: strict, base: at } = await start({ dpop: { required: true } })
    const email = await register(strict)
    const refused = await login(at, email, null)
    assert.equal(refused.status, 400)
    assert.equal(((await refused.json()) as { code: string }).code, 'ERR_DPOP_PROOF_INVALID')
    assert.equal((await login(at, email, await newDpopKey())).status, 200)
    void problemOf
  })
})
