import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { PASSWORD, bearer, problemOf, signUp, testSchema, testServer, uniqueEmail, type TestServer } from './helpers.js'

let server: TestServer
let drop: () => Promise<void>
before(async () => {
  const s = await testSchema()
  drop = () => s.drop()
  server = await testServer({ schema: s.schema, redis: true })
})
after(async () => {
  await server.close()
  await drop()
})

void test('register answers 202 with no body for a new and a taken email alike (no account enumeration)', async () => {
  const email = uniqueEmail()
  const res = await server.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } })
  assert.equal(res.statusCode, 202)
  assert.equal(res.body, '')
  const again = await server.app.inject({ method: 'POST', url: '/auth/register', payload: { email: email.toUpperCase(), password: 'some other passphrase' } })
  assert.equal(again.statusCode, 202)
  assert.equal(again.body, '')
  assert.equal((await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })).statusCode, 200)
})

void test('control characters in an email are a 400 at the edge, never a database error', async () => {
  for (const email of ['a\u0000b@example.com', 'a@exam\u0000ple.com', 'a\u001b[2J@example.com', 'a@example.com\u0000']) {
    for (const url of ['/auth/register', '/auth/login', '/auth/password-reset']) {
      const res = await server.app.inject({ method: 'POST', url, payload: { email, password: PASSWORD } })
      assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(email)}: ${res.body}`)
      assert.equal(problemOf(res).code, 'ERR_VALIDATION')
    }
  }
})

void test('register refuses a weak password and a malformed email with 400 problem+json', async () => {
  const weak = await server.app.inject({ method: 'POST', url: '/auth/register', payload: { email: uniqueEmail(), password: 'short' } })
  assert.equal(weak.statusCode, 400)
  assert.equal(problemOf(weak).code, 'ERR_WEAK_PASSWORD')
  assert.match(problemOf(weak).detail, /at least 10/)
  const bad = await server.app.inject({ method: 'POST', url: '/auth/register', payload: { email: 'not-an-email', password: PASSWORD } })
  assert.equal(problemOf(bad).code, 'ERR_VALIDATION')
  const missing = await server.app.inject({ method: 'POST', url: '/auth/register', payload: { email: uniqueEmail() } })
  assert.equal(missing.statusCode, 400)
  assert.equal(problemOf(missing).code, 'ERR_VALIDATION')
})

void test('login returns an RFC 6749 token response and the access token opens /auth/me', async () => {
  const { email, userId, tokens, login } = await signUp(server.app)
  assert.equal(tokens.token_type, 'Bearer')
  assert.ok(tokens.expires_in > 0 && tokens.expires_in <= 900)
  assert.match(tokens.refresh_token, /^tsr1\./)
  assert.equal(login.headers['cache-control'], 'no-store')
  const me = await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) })
  assert.equal(me.statusCode, 200)
  assert.deepEqual(me.json(), { user_id: userId, email, email_verified: false, session_id: tokens.session_id })
})

void test('a wrong password and an unknown email get the same 401 body', async () => {
  const { email } = await signUp(server.app)
  const wrong = await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'wrong password here' } })
  const unknown = await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email: uniqueEmail('ghost'), password: 'wrong password here' } })
  assert.equal(wrong.statusCode, 401)
  assert.equal(unknown.statusCode, 401)
  assert.deepEqual(wrong.json(), unknown.json())
  assert.equal(problemOf(wrong).code, 'ERR_INVALID_CREDENTIALS')
})

void test('refresh rotates: the new pair works and the old refresh token, replayed after the grace window, revokes the session', async (t) => {
  const { tokens } = await signUp(server.app)
  const res = await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } })
  assert.equal(res.statusCode, 200)
  const next = res.json()
  assert.notEqual(next.refresh_token, tokens.refresh_token)
  assert.equal(next.session_id, tokens.session_id)
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 11_000 })
  const replay = await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } })
  t.mock.timers.reset()
  assert.equal(replay.statusCode, 401)
  assert.equal(problemOf(replay).code, 'ERR_REFRESH_TOKEN_REUSED')
  const me = await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(next.access_token) })
  assert.equal(me.statusCode, 401)
  assert.equal(problemOf(me).code, 'ERR_SESSION_REVOKED')
})

void test('refresh refuses a forged token and an empty body with 4xx problems', async () => {
  const forged = await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: 'tsr1.x.y.1.z.w' } })
  assert.equal(forged.statusCode, 401)
  assert.equal(problemOf(forged).code, 'ERR_REFRESH_TOKEN_INVALID')
  assert.doesNotMatch(forged.body, /tsr1\.x/)
  // No token at all is the signed-out state: 401, no longer 400 ERR_VALIDATION (CHANGELOG).
  const none = await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: {} })
  assert.equal(none.statusCode, 401)
  assert.equal(problemOf(none).code, 'ERR_REFRESH_TOKEN_MISSING')
})

void test('logout ends this session only; logout-all with except_current keeps this one', async () => {
  const { email, tokens: a } = await signUp(server.app)
  const b = (await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })).json()
  const c = (await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })).json()
  const out = await server.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(a.access_token) })
  assert.equal(out.statusCode, 204)
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(a.access_token) })).statusCode, 401)
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(b.access_token) })).statusCode, 200)
  const all = await server.app.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(c.access_token), payload: { except_current: true } })
  assert.equal(all.statusCode, 204)
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(b.access_token) })).statusCode, 401)
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(c.access_token) })).statusCode, 200)
  const everything = await server.app.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(c.access_token) })
  assert.equal(everything.statusCode, 204)
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(c.access_token) })).statusCode, 401)
})

void test('protected routes refuse a missing, malformed or foreign token with 401 and WWW-Authenticate', async () => {
  const none = await server.app.inject({ method: 'GET', url: '/demo/protected' })
  assert.equal(none.statusCode, 401)
  // One dialect with the verifier's adapters (docs/server.md "Changes"): the code and type every middleware sends.
  assert.equal(problemOf(none).code, 'ERR_ACCESS_TOKEN_MISSING')
  assert.equal(problemOf(none).type, 'urn:tessera:error:access-token-missing')
  // RFC 9449 section 7.1: the server takes DPoP too, so the challenge names both schemes.
  assert.equal(none.headers['www-authenticate'], 'Bearer, DPoP algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"')
  const junk = await server.app.inject({ method: 'GET', url: '/demo/protected', headers: bearer('abc.def.ghi') })
  assert.equal(problemOf(junk).code, 'ERR_ACCESS_TOKEN_INVALID')
  assert.doesNotMatch(junk.body, /abc\.def/)
  const { tokens, userId } = await signUp(server.app)
  const ok = await server.app.inject({ method: 'GET', url: '/demo/protected', headers: bearer(tokens.access_token) })
  assert.deepEqual(ok.json(), { user_id: userId, session_id: tokens.session_id })
})

void test('sessions lists mine with device details and deletes only my own', async () => {
  const ua = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
  const { email, tokens } = await signUp(server.app, undefined, undefined, { 'user-agent': ua })
  const second = (await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD, device_name: 'Phone' } })).json()
  const list = await server.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(tokens.access_token) })
  assert.equal(list.statusCode, 200)
  const sessions = list.json().sessions
  assert.equal(sessions.length, 2)
  const mine = sessions.find((x: { current: boolean }) => x.current)
  assert.equal(mine.session_id, tokens.session_id)
  assert.equal(mine.browser, 'Chrome 131')
  assert.equal(mine.os, 'Windows 10')
  assert.equal(mine.user_agent, ua)
  assert.equal(mine.ip, '127.0.0.1')
  assert.ok(Date.parse(mine.expires_at) > Date.now())
  assert.equal(sessions.find((x: { current: boolean }) => !x.current).device_name, 'Phone')

  const other = await signUp(server.app)
  const foreign = await server.app.inject({ method: 'DELETE', url: `/auth/sessions/${encodeURIComponent(other.tokens.session_id)}`, headers: bearer(tokens.access_token) })
  assert.equal(foreign.statusCode, 404)
  assert.equal(problemOf(foreign).code, 'ERR_SESSION_NOT_FOUND')
  const del = await server.app.inject({ method: 'DELETE', url: `/auth/sessions/${encodeURIComponent(second.session_id)}`, headers: bearer(tokens.access_token) })
  assert.equal(del.statusCode, 204)
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(second.access_token) })).statusCode, 401)
  const gone = await server.app.inject({ method: 'DELETE', url: `/auth/sessions/${encodeURIComponent(second.session_id)}`, headers: bearer(tokens.access_token) })
  assert.equal(gone.statusCode, 404)
})

void test('bad input never gets a 500: bad JSON, wrong content type, huge body, unknown route', async () => {
  const badJson = await server.app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"email": "a@b.c", "password": tsr1.secret' })
  assert.equal(badJson.statusCode, 400)
  assert.equal(problemOf(badJson).code, 'ERR_BAD_REQUEST')
  assert.doesNotMatch(badJson.body, /tsr1/)
  const text = await server.app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'text/plain' }, payload: 'hello' })
  assert.equal(text.statusCode, 415)
  assert.equal(problemOf(text).code, 'ERR_UNSUPPORTED_MEDIA_TYPE')
  const huge = await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'a@b.co', password: 'x'.repeat(20_000) } })
  assert.equal(huge.statusCode, 413)
  assert.equal(problemOf(huge).code, 'ERR_PAYLOAD_TOO_LARGE')
  const missing = await server.app.inject({ method: 'GET', url: '/nope' })
  assert.equal(missing.statusCode, 404)
  assert.equal(problemOf(missing).code, 'ERR_NOT_FOUND')
  const wrongType = await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email: ['a'], password: 5 } })
  assert.equal(wrongType.statusCode, 400)
  for (const res of [badJson, text, huge, missing, wrongType]) assert.doesNotMatch(res.body, /at .*\.(ts|js):\d+/)
})

void test('every Bearer route refuses a request without a token with 401 ERR_ACCESS_TOKEN_MISSING', async () => {
  const routes: [string, string][] = [
    ['POST', '/auth/logout'],
    ['POST', '/auth/logout-all'],
    ['GET', '/auth/me'],
    ['GET', '/auth/sessions'],
    ['DELETE', '/auth/sessions/abc'],
    ['POST', '/auth/password'],
    ['POST', '/auth/email-verification'],
    ['GET', '/demo/protected'],
  ]
  for (const [method, url] of routes) {
    const res = await server.app.inject({ method: method as 'GET', url, headers: { authorization: 'Basic abc' } })
    assert.equal(res.statusCode, 401, `${method} ${url}`)
    assert.equal(problemOf(res).code, 'ERR_ACCESS_TOKEN_MISSING')
    if (url.startsWith('/auth/')) assert.equal(res.headers['cache-control'], 'no-store')
  }
})

void test('an unknown email costs the same argon2 work as a wrong password', async () => {
  const { email } = await signUp(server.app)
  const wrong: number[] = []
  const unknown: number[] = []
  const time = async (payload: object) => {
    const started = performance.now()
    const res = await server.app.inject({ method: 'POST', url: '/auth/login', payload })
    assert.equal(res.statusCode, 401)
    return performance.now() - started
  }
  for (let i = 0; i < 8; i++) {
    wrong.push(await time({ email, password: 'wrong password!!' }))
    unknown.push(await time({ email: uniqueEmail('ghost'), password: 'wrong password!!' }))
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!
  // Without the dummy hash the unknown-email path would be ~100x faster; medians keep scheduler noise out.
  const ratio = median(unknown) / median(wrong)
  assert.ok(ratio > 0.5 && ratio < 2, `unknown/wrong median ratio ${ratio.toFixed(2)} (${median(unknown).toFixed(1)} vs ${median(wrong).toFixed(1)} ms)`)
})

void test("protected routes answer exactly as the Fastify adapter users get (same verifier construction, same refusals)", async () => {
  const { default: Fastify } = await import('fastify')
  const { createEngineVerifier } = await import('@tessera/verifier')
  const { tesseraFastify } = await import('@tessera/verifier/fastify')
  const user = Fastify()
  await user.register(tesseraFastify, { verifier: await createEngineVerifier(server.auth, { mode: 'strict', dpop: true }), closeVerifier: true })
  user.get('/demo/protected', async (request) => ({ user_id: request.auth!.userId, session_id: request.auth!.sessionId }))
  try {
    const { tokens } = await signUp(server.app)
    const ended = (await signUp(server.app)).tokens
    await server.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(ended.access_token) })
    const cases: Record<string, string>[] = [{}, { authorization: 'Basic abc' }, bearer('abc.def.ghi'), bearer(ended.access_token), { authorization: `DPoP ${tokens.access_token}` }, bearer(tokens.access_token)]
    for (const headers of cases) {
      const ours = await server.app.inject({ method: 'GET', url: '/demo/protected', headers })
      const theirs = await user.inject({ method: 'GET', url: '/demo/protected', headers })
      const label = JSON.stringify(headers).slice(0, 60)
      assert.equal(ours.statusCode, theirs.statusCode, label)
      assert.equal(ours.headers['www-authenticate'], theirs.headers['www-authenticate'], label)
      assert.deepEqual(ours.json(), theirs.json(), label)
    }
  } finally {
    await user.close()
  }
})
