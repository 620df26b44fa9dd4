import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import Fastify from 'fastify'
import { DEFAULT_WEB_DIR } from '../app.js'
import { registerAccountRoutes } from '../routes/account.js'
import { bearer, signUp, testSchema, testServer, type TestServer, problemOf } from './helpers.js'

let server: TestServer
let drop: () => Promise<void>
const web = mkdtempSync(join(tmpdir(), 'tessera-web-'))
writeFileSync(join(web, 'index.html'), '<!doctype html><title>Account</title>')
writeFileSync(join(web, 'main.js'), 'console.log(1)')
writeFileSync(join(web, 'style.css'), 'body{}')
writeFileSync(join(web, '.secret'), 'hidden')
mkdirSync(join(web, 'sub'))
writeFileSync(join(web, 'sub', 'x.js'), 'x')

before(async () => {
  const s = await testSchema()
  drop = () => s.drop()
  server = await testServer({ schema: s.schema, redis: true, app: { webDir: web, metricsAccess: 'public' } })
})
after(async () => {
  await server.close()
  await drop()
  rmSync(web, { recursive: true, force: true })
})

void test('healthz and readyz answer 200 when everything is reachable', async () => {
  assert.deepEqual((await server.app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' })
  const ready = await server.app.inject({ method: 'GET', url: '/readyz' })
  assert.equal(ready.statusCode, 200)
  assert.deepEqual(ready.json().checks, { session_store: true, user_database: true, rate_limiter: true })
})

void test('readyz answers 503 when the user database is unreachable', async (t) => {
  const s = await testSchema()
  const broken = await testServer({ schema: s.schema })
  t.after(async () => {
    await broken.close()
    await s.drop()
  })
  await broken.users.close()
  const ready = await broken.app.inject({ method: 'GET', url: '/readyz' })
  assert.equal(ready.statusCode, 503)
  assert.equal(ready.json().checks.user_database, false)
  assert.equal(ready.headers['retry-after'], '1')
  const login = await broken.app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'a@b.co', password: 'whatever password' } })
  assert.equal(login.statusCode, 503)
  assert.equal(login.json().code, 'ERR_DATABASE_UNAVAILABLE')
})

void test('metrics expose logins, refreshes, reuse detections, revocations, verify outcomes and latency histograms', async (t) => {
  const { tokens } = await signUp(server.app)
  await server.app.inject({ method: 'GET', url: '/demo/protected', headers: bearer(tokens.access_token) })
  await server.app.inject({ method: 'GET', url: '/demo/protected', headers: bearer('x.y.z') })
  const next = await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } })
  assert.equal(next.statusCode, 200)
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 11_000 })
  await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } })
  t.mock.timers.reset()
  const res = await server.app.inject({ method: 'GET', url: '/metrics' })
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^text\/plain/)
  const text = res.body
  assert.match(text, /tessera_logins_total\{outcome="success"\} [1-9]/)
  assert.match(text, /tessera_refreshes_total\{outcome="success"\} 1/)
  assert.match(text, /tessera_refreshes_total\{outcome="ERR_REFRESH_TOKEN_REUSED"\} 1/)
  assert.match(text, /tessera_refresh_reuse_detections_total 1/)
  assert.match(text, /tessera_revocations_total\{reason="refresh_reuse_detected"\} 1/)
  assert.match(text, /tessera_access_token_verifications_total\{outcome="valid"\} [1-9]/)
  assert.match(text, /tessera_access_token_verifications_total\{outcome="ERR_ACCESS_TOKEN_INVALID"\} 1/)
  assert.match(text, /tessera_http_request_duration_seconds_bucket\{.*route="\/auth\/login".*\}/)
  assert.match(text, /tessera_access_token_verify_duration_seconds_count [1-9]/)
})

void test('the OpenAPI document lists every route', async () => {
  const res = await server.app.inject({ method: 'GET', url: '/openapi.json' })
  assert.equal(res.statusCode, 200)
  const doc = res.json()
  assert.match(doc.openapi, /^3\./)
  for (const path of ['/auth/register', '/auth/login', '/auth/refresh', '/auth/sessions/{session_id}', '/oauth2/token', '/oauth2/introspect', '/.well-known/jwks.json', '/demo/protected']) {
    assert.ok(doc.paths[path], `${path} documented`)
  }
  assert.ok(doc.paths['/auth/login'].post.requestBody)
})

void test('the account page serves web/ files with their content types and nothing else', async () => {
  const index = await server.app.inject({ method: 'GET', url: '/account' })
  assert.equal(index.statusCode, 200)
  assert.match(String(index.headers['content-type']), /^text\/html/)
  assert.match(String(index.headers['content-security-policy']), /frame-ancestors 'none'/)
  assert.match(String((await server.app.inject({ method: 'GET', url: '/account/main.js' })).headers['content-type']), /^text\/javascript/)
  assert.match(String((await server.app.inject({ method: 'GET', url: '/account/style.css' })).headers['content-type']), /^text\/css/)
  for (const url of ['/account/.secret', '/account/..%2F..%2Fetc%2Fpasswd', '/account/../package.json', '/account/sub%2Fx.js', '/account/missing.js']) {
    const res = await server.app.inject({ method: 'GET', url })
    assert.equal(res.statusCode, 404, url)
  }
})

void test('the shipped account page is served whole: every file index.html links and every module it imports, and nothing else in web/', async (t) => {
  // The page is split into ES modules served one name deep (/account/<name>); a module in a subfolder or a
  // misspelt import would 404 in the browser, and this finds it without one.
  const app = Fastify()
  t.after(() => app.close())
  await registerAccountRoutes(app, DEFAULT_WEB_DIR)
  const index = await app.inject({ method: 'GET', url: '/account' })
  assert.equal(index.statusCode, 200)
  const pending = [...index.body.matchAll(/(?:src|href)="(\/account\/[^"]+)"/g)].map((m) => m[1]!)
  const served = new Set<string>()
  while (pending.length) {
    const url = pending.pop()!
    if (served.has(url)) continue
    const res = await app.inject({ method: 'GET', url })
    assert.equal(res.statusCode, 200, url)
    served.add(url)
    if (!url.endsWith('.js')) continue
    assert.match(String(res.headers['content-type']), /^text\/javascript/, url)
    for (const [, from] of res.body.matchAll(/^import [^'\n]*'([^']+)'/gm)) {
      assert.match(from!, /^\/account\/[\w-]+\.js$/, `${url} imports ${from}`)
      pending.push(from!)
    }
  }
  const files = readdirSync(DEFAULT_WEB_DIR).filter((name) => name !== 'index.html' && !name.startsWith('.'))
  assert.deepEqual([...served].map((url) => url.slice('/account/'.length)).sort(), files.sort())
})

void test('without web/index.html the account page is 404', async (t) => {
  const s = await testSchema()
  const bare = await testServer({ schema: s.schema, app: { webDir: join(web, 'nope') } })
  t.after(async () => {
    await bare.close()
    await s.drop()
  })
  assert.equal((await bare.app.inject({ method: 'GET', url: '/account' })).statusCode, 404)
})

void test('URL-level errors and unknown routes are problem+json with the security headers and never echo the URL', async () => {
  const secret = 'tsr1.c2VjcmV0LXRva2Vu.1.QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo'
  const cases = [
    { method: 'GET', url: `/auth/sessions/${secret}%E0%A4%A`, status: 400, code: 'ERR_BAD_REQUEST' },
    { method: 'DELETE', url: `/auth/sessions/${secret}${'a'.repeat(600)}`, status: 414, code: 'ERR_URI_TOO_LONG' },
    { method: 'GET', url: `/no/such/route/${secret}?token=${secret}`, status: 404, code: 'ERR_NOT_FOUND' },
  ] as const
  for (const c of cases) {
    const res = await server.app.inject({ method: c.method, url: c.url })
    assert.equal(res.statusCode, c.status, c.url.slice(0, 60))
    assert.equal(problemOf(res).code, c.code)
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
    assert.doesNotMatch(res.body, /c2VjcmV0|QUJDREVG|no\/such|sessions/, 'the answer echoes the URL')
  }
})
