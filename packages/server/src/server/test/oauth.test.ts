import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { issuerLimitsFromMetadata } from '@tessera/core'
import { bearer, signUp, testSchema, testServer, type TestServer } from './helpers.js'

const CLIENT = { id: 'resource-api', secret: 'resource-api-secret-123' }
let server: TestServer
let drop: () => Promise<void>
before(async () => {
  const s = await testSchema()
  drop = () => s.drop()
  server = await testServer({ schema: s.schema, redis: true, app: { clients: new Map([[CLIENT.id, CLIENT.secret]]) } })
})
after(async () => {
  await server.close()
  await drop()
})

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` })
const post = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  server.app.inject({ method: 'POST', url, payload: form(fields), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } })
const introspect = (token: string) => post('/oauth2/introspect', { token }, basic(CLIENT.id, CLIENT.secret))

void test('metadata (RFC 8414) names the endpoints and the grant types', async () => {
  const res = await server.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
  assert.equal(res.statusCode, 200)
  const meta = res.json()
  assert.equal(meta.issuer, 'https://auth.test')
  assert.equal(meta.token_endpoint, 'http://auth.test/oauth2/token')
  assert.equal(meta.jwks_uri, 'http://auth.test/.well-known/jwks.json')
  assert.equal(meta.introspection_endpoint, 'http://auth.test/oauth2/introspect')
  assert.equal(meta.revocation_endpoint, 'http://auth.test/oauth2/revoke')
  assert.deepEqual(meta.grant_types_supported, ['refresh_token'])
})

void test('metadata advertises the issuer limits a verifier needs, under Tessera extension members', async () => {
  const meta = (await server.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json()
  const o = server.auth.options
  assert.equal(meta.tessera_access_token_ttl_seconds, o.accessTokenTtlSeconds)
  assert.equal(meta.tessera_clock_tolerance_seconds, o.clockToleranceSeconds)
  assert.equal(meta.tessera_refresh_grace_seconds, o.refreshGraceSeconds)
  assert.deepEqual(issuerLimitsFromMetadata(meta), { accessTokenTtlSeconds: o.accessTokenTtlSeconds, clockToleranceSeconds: o.clockToleranceSeconds, refreshGraceSeconds: o.refreshGraceSeconds })
})

void test('token endpoint: refresh_token grant answers per RFC 6749 section 5.1, errors per 5.2', async () => {
  const { tokens } = await signUp(server.app)
  const ok = await post('/oauth2/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token })
  assert.equal(ok.statusCode, 200)
  assert.equal(ok.headers['cache-control'], 'no-store')
  const body = ok.json()
  assert.equal(body.token_type, 'Bearer')
  assert.ok(body.access_token && body.refresh_token && body.expires_in > 0)

  const cases: [Record<string, string>, number, string][] = [
    [{ grant_type: 'password', username: 'a', password: 'b' }, 400, 'unsupported_grant_type'],
    [{ refresh_token: body.refresh_token }, 400, 'invalid_request'],
    [{ grant_type: 'refresh_token' }, 400, 'invalid_request'],
    [{ grant_type: 'refresh_token', refresh_token: 'tsr1.bogus' }, 400, 'invalid_grant'],
  ]
  for (const [fields, status, error] of cases) {
    const res = await post('/oauth2/token', fields)
    assert.equal(res.statusCode, status, JSON.stringify(fields))
    assert.equal(res.json().error, error)
    assert.equal(typeof res.json().error_description, 'string')
    assert.doesNotMatch(res.body, /tsr1\.bogus/)
  }
  const json = await server.app.inject({ method: 'POST', url: '/oauth2/token', payload: { grant_type: 'refresh_token' } })
  assert.equal(json.statusCode, 400)
  assert.ok(json.json().error)
})

void test('introspection (RFC 7662) needs client authentication', async () => {
  const { tokens } = await signUp(server.app)
  for (const headers of [{}, basic(CLIENT.id, 'wrong-secret-value'), basic('nobody', CLIENT.secret), { authorization: 'Basic %%%' }]) {
    const res = await post('/oauth2/introspect', { token: tokens.access_token }, headers)
    assert.equal(res.statusCode, 401)
    assert.equal(res.json().error, 'invalid_client')
    assert.match(String(res.headers['www-authenticate']), /^Basic/)
  }
})

void test('introspection reports live tokens active and revoked, expired or unknown ones inactive', async (t) => {
  const { tokens, userId } = await signUp(server.app)
  const access = (await introspect(tokens.access_token)).json()
  assert.equal(access.active, true)
  assert.equal(access.sub, userId)
  assert.equal(access.sid, tokens.session_id)
  assert.equal(access.token_type, 'Bearer')
  assert.ok(access.exp > access.iat)
  const refresh = (await introspect(tokens.refresh_token)).json()
  assert.equal(refresh.active, true)
  assert.equal(refresh.sub, userId)

  assert.deepEqual((await introspect('garbage')).json(), { active: false })
  assert.deepEqual((await introspect('tsr1.a.b.1.c.d')).json(), { active: false })
  const missing = await post('/oauth2/introspect', {}, basic(CLIENT.id, CLIENT.secret))
  assert.equal(missing.json().error, 'invalid_request')

  t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 901_000 })
  const expired = (await introspect(tokens.access_token)).json()
  t.mock.timers.reset()
  assert.deepEqual(expired, { active: false })

  await server.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) })
  assert.deepEqual((await introspect(tokens.access_token)).json(), { active: false })
  assert.deepEqual((await introspect(tokens.refresh_token)).json(), { active: false })
})

void test('introspection reports the high-S twin of a live ES256 token inactive (one token, one spelling)', async () => {
  const { tokens } = await signUp(server.app)
  assert.equal((await introspect(tokens.access_token)).json().active, true)
  const [header, payload, signature] = tokens.access_token.split('.') as [string, string, string]
  const bytes = Buffer.from(signature, 'base64url')
  const order = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')
  const twinS = order - BigInt(`0x${bytes.subarray(32).toString('hex')}`)
  const twin = `${header}.${payload}.${Buffer.concat([bytes.subarray(0, 32), Buffer.from(twinS.toString(16).padStart(64, '0'), 'hex')]).toString('base64url')}`
  assert.deepEqual((await introspect(twin)).json(), { active: false })
  assert.equal((await server.app.inject({ method: 'GET', url: '/demo/protected', headers: bearer(twin) })).statusCode, 401)
})

void test('revocation (RFC 7009): revoking the refresh token or the access token ends the session; unknown tokens get 200', async () => {
  const a = await signUp(server.app)
  const byRefresh = await post('/oauth2/revoke', { token: a.tokens.refresh_token, token_type_hint: 'refresh_token' })
  assert.equal(byRefresh.statusCode, 200)
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(a.tokens.access_token) })).statusCode, 401)

  const b = await signUp(server.app)
  const byAccess = await post('/oauth2/revoke', { token: b.tokens.access_token }, basic(CLIENT.id, CLIENT.secret))
  assert.equal(byAccess.statusCode, 200)
  assert.equal((await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: b.tokens.refresh_token } })).statusCode, 401)

  assert.equal((await post('/oauth2/revoke', { token: 'nonsense' })).statusCode, 200)
  assert.equal((await post('/oauth2/revoke', {})).json().error, 'invalid_request')
  assert.equal((await post('/oauth2/revoke', { token: 'x' }, basic(CLIENT.id, 'bad-secret-value'))).statusCode, 401)
})
