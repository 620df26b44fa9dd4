import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { PASSWORD, bearer, problemOf, signUp, testSchema, testServer, type TestServer } from './helpers.js'

let server: TestServer
let drop: () => Promise<void>
before(async () => {
  const s = await testSchema()
  drop = () => s.drop()
  server = await testServer({ schema: s.schema, redis: true, auth: { refreshIdleTtlSeconds: 3600 } })
})
after(async () => {
  await server.close()
  await drop()
})

const BROWSER = { 'x-tessera-client': 'browser' }

function refreshCookie(res: LightMyRequestResponse) {
  const cookie = res.cookies.find((c) => c.name === 'tessera_refresh')
  assert.ok(cookie, 'sets tessera_refresh')
  return cookie
}

async function browserLogin() {
  const { email } = await signUp(server.app)
  const res = await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD }, headers: BROWSER })
  assert.equal(res.statusCode, 200)
  return { res, email }
}

void test('browser login puts the refresh token in an HttpOnly, SameSite=Strict cookie scoped to /auth/refresh, not in the body', async () => {
  const { res } = await browserLogin()
  const body = res.json()
  assert.equal(body.refresh_token, undefined)
  assert.ok(body.access_token)
  const cookie = refreshCookie(res)
  assert.match(cookie.value, /^tsr1\./)
  assert.equal(cookie.httpOnly, true)
  assert.equal(cookie.sameSite, 'Strict')
  assert.equal(cookie.path, '/auth/refresh')
  assert.equal(cookie.maxAge, 3600)
  assert.equal(cookie.secure, undefined, 'not Secure over plain http')
})

void test('a cookie refresh with the CSRF header and our origin rotates the cookie', async () => {
  const { res } = await browserLogin()
  const cookie = refreshCookie(res)
  const next = await server.app.inject({
    method: 'POST',
    url: '/auth/refresh',
    cookies: { tessera_refresh: cookie.value },
    headers: { 'x-tessera-csrf': '1', origin: 'http://auth.test' },
  })
  assert.equal(next.statusCode, 200, next.body)
  assert.equal(next.json().refresh_token, undefined)
  const rotated = refreshCookie(next)
  assert.notEqual(rotated.value, cookie.value)
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(next.json().access_token) })).statusCode, 200)
})

void test('a cookie refresh without the CSRF header or from another origin is 403 ERR_CSRF', async () => {
  const { res } = await browserLogin()
  const cookie = refreshCookie(res)
  const noHeader = await server.app.inject({ method: 'POST', url: '/auth/refresh', cookies: { tessera_refresh: cookie.value } })
  assert.equal(noHeader.statusCode, 403)
  assert.equal(problemOf(noHeader).code, 'ERR_CSRF')
  const foreign = await server.app.inject({
    method: 'POST',
    url: '/auth/refresh',
    cookies: { tessera_refresh: cookie.value },
    headers: { 'x-tessera-csrf': '1', origin: 'https://evil.example' },
  })
  assert.equal(problemOf(foreign).code, 'ERR_CSRF')
  // Neither attempt used the token: it still refreshes once the checks pass.
  const ok = await server.app.inject({ method: 'POST', url: '/auth/refresh', cookies: { tessera_refresh: cookie.value }, headers: { 'x-tessera-csrf': '1' } })
  assert.equal(ok.statusCode, 200)
})

void test('logout clears the refresh cookie', async () => {
  const { res } = await browserLogin()
  const out = await server.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(res.json().access_token) })
  assert.equal(out.statusCode, 204)
  const cleared = refreshCookie(out)
  assert.equal(cleared.value, '')
  assert.equal(cleared.maxAge, 0)
  assert.equal(cleared.path, '/auth/refresh')
})

void test('a readable, secret-free session hint cookie comes and goes with the refresh cookie', async () => {
  const { res } = await browserLogin()
  const hint = res.cookies.find((c) => c.name === 'tessera_session_hint')
  assert.ok(hint, 'sets tessera_session_hint')
  assert.equal(hint.value, '1')
  assert.equal(hint.httpOnly, undefined, 'page scripts read it')
  assert.equal(hint.sameSite, 'Strict')
  assert.equal(hint.path, '/')
  assert.equal(hint.maxAge, 3600)
  const out = await server.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(res.json().access_token) })
  assert.equal(out.statusCode, 204)
  assert.equal(out.cookies.find((c) => c.name === 'tessera_session_hint')?.maxAge, 0, 'logout clears it')
  // Body mode sets neither cookie.
  const { email } = await signUp(server.app)
  const api = await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })
  assert.deepEqual(api.cookies.map((c) => c.name).filter((n) => n.startsWith('tessera_s') || n === 'tessera_refresh'), [])
})

void test('a browser with a refresh cookie and no hint (signed in before the hint existed) gets the hint from a 204, and one without gets "0"', async () => {
  const { res } = await browserLogin()
  const hint = async (cookies: Record<string, string>) => {
    const answer = await server.app.inject({ method: 'GET', url: '/auth/refresh/session-hint', cookies })
    assert.equal(answer.statusCode, 204, answer.body)
    return answer.cookies.find((c) => c.name === 'tessera_session_hint')
  }
  const legacy = await hint({ tessera_refresh: refreshCookie(res).value })
  assert.equal(legacy?.value, '1')
  assert.deepEqual([legacy.path, legacy.sameSite, legacy.maxAge, legacy.httpOnly], ['/', 'Strict', 3600, undefined])
  assert.equal((await hint({}))?.value, '0', 'checked: no session here')
})

void test('a refresh with neither a body token nor the cookie is 401 ERR_REFRESH_TOKEN_MISSING, not a validation error', async () => {
  for (const headers of [{ 'x-tessera-csrf': '1', origin: 'http://auth.test', ...BROWSER }, {}]) {
    const res = await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: {}, headers })
    assert.equal(res.statusCode, 401, res.body)
    const problem = problemOf(res)
    assert.equal(problem.code, 'ERR_REFRESH_TOKEN_MISSING')
    assert.match(problem.detail, /no refresh token/)
  }
})

void test('the refresh cookie is Secure when TESSERA_COOKIE_SECURE is on', async (t) => {
  const s = await testSchema()
  const secure = await testServer({ schema: s.schema, app: { cookieSecure: true } })
  t.after(async () => {
    await secure.close()
    await s.drop()
  })
  const { email } = await signUp(secure.app)
  const res = await secure.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD }, headers: BROWSER })
  assert.equal(refreshCookie(res).secure, true)
})
