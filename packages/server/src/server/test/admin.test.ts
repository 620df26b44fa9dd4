import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { decodeProtectedHeader } from 'jose'
import { PASSWORD, bearer, problemOf, signUp, testSchema, testServer, type TestServer } from './helpers.js'

const ADMIN_TOKEN = 'admin-secret-of-at-least-24-chars'
let server: TestServer
let drop: () => Promise<void>
before(async () => {
  const s = await testSchema()
  drop = () => s.drop()
  server = await testServer({ schema: s.schema, redis: true, app: { adminToken: ADMIN_TOKEN } })
})
after(async () => {
  await server.close()
  await drop()
})

const admin = bearer(ADMIN_TOKEN)
const login = (email: string) => server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })

void test('admin routes refuse a missing or wrong admin token with 401', async () => {
  const { userId, tokens } = await signUp(server.app)
  for (const headers of [{}, bearer('wrong-admin-token-of-some-length'), bearer(tokens.access_token)]) {
    const res = await server.app.inject({ method: 'GET', url: `/admin/users/${userId}/sessions`, headers })
    assert.equal(res.statusCode, 401)
    assert.equal(problemOf(res).code, 'ERR_UNAUTHENTICATED')
  }
})

void test('a refused admin request is challenged with the bare Bearer scheme (RFC 7235), no invalid_token', async () => {
  const res = await server.app.inject({ method: 'GET', url: '/admin/users/nobody/sessions', headers: bearer('wrong-admin-token-of-some-length') })
  assert.equal(res.statusCode, 401)
  assert.equal(res.headers['www-authenticate'], 'Bearer')
})

void test("admin lists a user's sessions and ends one or all", async () => {
  const { email, userId, tokens } = await signUp(server.app)
  const second = (await login(email)).json()
  const list = await server.app.inject({ method: 'GET', url: `/admin/users/${userId}/sessions`, headers: admin })
  assert.equal(list.statusCode, 200)
  assert.equal(list.json().sessions.length, 2)
  const del = await server.app.inject({ method: 'DELETE', url: `/admin/sessions/${encodeURIComponent(tokens.session_id)}`, headers: admin })
  assert.equal(del.statusCode, 204)
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) })).statusCode, 401)
  const missing = await server.app.inject({ method: 'DELETE', url: `/admin/sessions/${encodeURIComponent(tokens.session_id)}`, headers: admin })
  assert.equal(problemOf(missing).code, 'ERR_SESSION_NOT_FOUND')
  const garbage = await server.app.inject({ method: 'DELETE', url: '/admin/sessions/not-a-session', headers: admin })
  assert.equal(garbage.statusCode, 404)
  const all = await server.app.inject({ method: 'POST', url: `/admin/users/${userId}/revoke-sessions`, headers: admin })
  assert.deepEqual(all.json(), { revoked: 1 })
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(second.access_token) })).statusCode, 401)
})

void test('a ban kills every session and blocks login with 403 until unbanned', async () => {
  const { email, userId, tokens } = await signUp(server.app)
  const until = new Date(Date.now() + 3_600_000).toISOString()
  const ban = await server.app.inject({ method: 'POST', url: `/admin/users/${userId}/ban`, headers: admin, payload: { until, reason: 'abuse' } })
  assert.equal(ban.statusCode, 200)
  assert.deepEqual(ban.json(), { revoked: 1, until })
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) })).statusCode, 401)
  const refused = await login(email)
  assert.equal(refused.statusCode, 403)
  assert.equal(problemOf(refused).code, 'ERR_USER_BANNED')
  const refresh = await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } })
  assert.equal(refresh.statusCode, 401)
  const unban = await server.app.inject({ method: 'POST', url: `/admin/users/${userId}/unban`, headers: admin })
  assert.deepEqual(unban.json(), { unbanned: true })
  assert.equal((await login(email)).statusCode, 200)
})

void test('a ban with a past or malformed "until" is a 400', async () => {
  const { userId } = await signUp(server.app)
  const past = await server.app.inject({ method: 'POST', url: `/admin/users/${userId}/ban`, headers: admin, payload: { until: '2001-01-01T00:00:00Z' } })
  assert.equal(problemOf(past).code, 'ERR_INVALID_INPUT')
  const junk = await server.app.inject({ method: 'POST', url: `/admin/users/${userId}/ban`, headers: admin, payload: { until: 'tomorrow' } })
  assert.equal(problemOf(junk).code, 'ERR_VALIDATION')
})

void test('key rotation: new tokens use the new key, old tokens still verify, the JWKS publishes both', async () => {
  const { email, tokens } = await signUp(server.app)
  const oldKid = decodeProtectedHeader(tokens.access_token).kid
  const res = await server.app.inject({ method: 'POST', url: '/admin/keys/rotate', headers: admin })
  assert.equal(res.statusCode, 200)
  const { key_id } = res.json()
  assert.notEqual(key_id, oldKid)
  const fresh = (await login(email)).json()
  assert.equal(decodeProtectedHeader(fresh.access_token).kid, key_id)
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) })).statusCode, 200)
  const jwks = (await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json()
  assert.deepEqual(jwks.keys.map((k: { kid: string }) => k.kid).sort(), [key_id, oldKid].sort())
  for (const key of jwks.keys) assert.equal(key.d, undefined)
})

void test('user routes of the admin API answer 404 for a user the database does not know', async () => {
  for (const [method, path] of [['POST', 'ban'], ['POST', 'unban'], ['POST', 'revoke-sessions'], ['GET', 'sessions']] as const) {
    const res = await server.app.inject({ method, url: `/admin/users/no-such-user-${path}/${path}`, headers: admin, ...(method === 'POST' ? { payload: {} } : {}) })
    assert.equal(res.statusCode, 404, `${method} ${path}: ${res.body}`)
    assert.equal(problemOf(res).code, 'ERR_NOT_FOUND')
  }
})

void test('a user id that core would refuse (NUL or other control characters, braces, spaces, too long) is a 400 problem+json that does not echo it, never a database error', async () => {
  const refused = ['bad%00id', '%00', 'a%0Ab', 'a%7Fb', '%7Bu%3A1%7D', 'has%20space', 'x'.repeat(129), '%C3%A9t%C3%A9']
  for (const userId of refused) {
    for (const [method, path] of [['POST', 'ban'], ['POST', 'unban'], ['POST', 'revoke-sessions'], ['GET', 'sessions']] as const) {
      const res = await server.app.inject({ method, url: `/admin/users/${userId}/${path}`, headers: admin, ...(method === 'POST' ? { payload: {} } : {}) })
      assert.equal(res.statusCode, 400, `${method} ${userId}/${path}: ${res.body}`)
      const problem = problemOf(res)
      assert.equal(problem.code, 'ERR_INVALID_INPUT')
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      assert.ok(!res.body.includes(decodeURIComponent(userId)) && !res.body.includes(userId), `${userId} echoed: ${res.body}`)
    }
  }
})

void test('without an admin token the admin routes do not exist', async (t) => {
  const s = await testSchema()
  const plain = await testServer({ schema: s.schema })
  t.after(async () => {
    await plain.close()
    await s.drop()
  })
  const res = await plain.app.inject({ method: 'POST', url: '/admin/users/x/ban', headers: admin })
  assert.equal(res.statusCode, 404)
})
