// Property-based fuzzing of every server route (fast-check): random and
// mutated access tokens, refresh tokens, JSON bodies, params and headers,
// strings over all of Unicode (NUL and other control characters included).
// Properties: never a 5xx, never an unhandled rejection, every answer fast;
// every error is problem+json (RFC 6749 JSON on the OAuth endpoints) with
// nosniff, and none echoes the parameter or the body it was sent.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import type { InjectOptions } from 'fastify'
import { SHARED_REDIS_URL } from '../../support/redis.js'
import { createDeployment, registerAndLogin, startInstance, type Deployment, type HardeningServer } from '../harness.js'

const ADMIN_TOKEN = 'fuzz-admin-token-0123456789abcdef'
const CLIENT_SECRET = 'fuzz-client-secret-0123456789abcdef'
const MAX_ANSWER_MS = 1000
const RUNS = Number(process.env.TESSERA_FUZZ_RUNS ?? 400)

let deployment: Deployment
let server: HardeningServer
let routes: { method: string; path: string }[]
let genuine: { access: string; refresh: string; sessionId: string; userId: string }
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => void unhandled.push(reason)

before(async () => {
  process.on('unhandledRejection', onUnhandled)
  deployment = await createDeployment({ redisUrl: SHARED_REDIS_URL })
  server = await startInstance(deployment, { app: { adminToken: ADMIN_TOKEN, clients: new Map([['fuzz-client', CLIENT_SECRET]]) } })
  await server.app.ready()
  const spec = server.app.swagger() as { paths: Record<string, Record<string, unknown>> }
  routes = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path })))
  routes.push({ method: 'GET', path: '/metrics' }, { method: 'GET', path: '/openapi.json' }, { method: 'GET', path: '/no/such/route' })
  const user = await registerAndLogin(server.app)
  genuine = { access: user.tokens.access_token, refresh: user.tokens.refresh_token, sessionId: user.tokens.session_id, userId: user.userId }
})
after(async () => {
  process.off('unhandledRejection', onUnhandled)
  await server.close()
  await deployment.drop()
})

/** A token mutated the way an attacker or a broken client would: flipped, cut, spliced, re-encoded. */
function mutated(token: () => string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constant(null).map(() => token()),
    fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 1 })).map(([i, c]) => {
      const t = token()
      const at = i % t.length
      return t.slice(0, at) + c + t.slice(at + 1)
    }),
    fc.nat().map((i) => token().slice(0, i % token().length)),
    fc.tuple(fc.nat(), fc.string()).map(([i, s]) => {
      const t = token()
      const at = i % t.length
      return t.slice(0, at) + s + t.slice(at)
    }),
    fc.constant(null).map(() => token().split('.').reverse().join('.')),
    fc.constant(null).map(() => Buffer.from(token()).toString('base64')),
  )
}

// Any code point but a lone surrogate (not text: encodeURIComponent refuses it), with C0 controls (NUL
// included) drawn often: fc.string() alone draws printable ASCII only.
const anyCodePoint = fc
  .oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0x10ffff }))
  .map((codePoint) => String.fromCodePoint(codePoint))
const anyText = (maxLength: number) => fc.string({ unit: anyCodePoint, maxLength })

const tokenish = () => fc.oneof(mutated(() => genuine.access), mutated(() => genuine.refresh), fc.string(), anyText(300), fc.stringMatching(/^[A-Za-z0-9._~+/=-]{0,600}$/))

const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,300}$/)

const requestArb = fc.record({
  route: fc.nat(),
  methodOverride: fc.option(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'), { freq: 5 }),
  param: fc.oneof(fc.constant(null).map(() => genuine.sessionId), fc.constant(null).map(() => genuine.userId), fc.string({ maxLength: 600 }), anyText(300), tokenish()),
  authorization: fc.option(
    fc.oneof(
      tokenish().map((t) => `Bearer ${t}`),
      fc.constant(`Bearer ${ADMIN_TOKEN}`),
      fc.constant(`Basic ${Buffer.from(`fuzz-client:${CLIENT_SECRET}`).toString('base64')}`),
      headerValue,
    ),
    { freq: 2 },
  ),
  cookie: fc.option(fc.oneof(tokenish().map((t) => `tessera_refresh=${encodeURIComponent(t)}`), headerValue), { freq: 4 }),
  contentType: fc.option(fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=utf-16', 'multipart/form-data'), { freq: 3 }),
  body: fc.oneof(
    fc.json({ maxDepth: 4 }),
    fc.record({ email: fc.oneof(fc.emailAddress(), fc.string(), anyText(100)), password: fc.oneof(fc.string({ maxLength: 200 }), anyText(200)) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
    tokenish().map((t) => JSON.stringify({ refresh_token: t, token: t, new_password: 'x'.repeat(12) })),
    fc.string({ maxLength: 2000 }),
    anyText(2000),
    fc.constant('{"a":'.repeat(200)),
  ),
  query: fc.option(fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 100 }), { maxKeys: 4 }), { freq: 4 }),
})

/** Whether `text` holds `sent`, as sent, JSON-quoted or percent-encoded; only inputs long enough not to turn up by chance. */
function echoes(text: string, sent: string): boolean {
  if (sent.length < 12) return false
  return [sent, JSON.stringify(sent).slice(1, -1), encodeURIComponent(sent)].some((spelling) => text.includes(spelling))
}

void test('no route answers 5xx, hangs or leaves an unhandled rejection, whatever it is sent; every error is problem+json with nosniff and echoes nothing', async () => {
  const seen = new Map<string, Set<number>>()
  await fc.assert(
    fc.asyncProperty(requestArb, async (r) => {
      const route = routes[r.route % routes.length]!
      const url = route.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(r.param))
      const headers: Record<string, string> = {}
      if (r.authorization !== null) headers.authorization = r.authorization
      if (r.cookie !== null) headers.cookie = r.cookie
      if (r.contentType !== null) headers['content-type'] = r.contentType
      const method = (r.methodOverride ?? route.method) as InjectOptions['method']
      const options: InjectOptions = { method, url, headers, ...(r.query ? { query: r.query } : {}) }
      if (method !== 'GET' && method !== 'HEAD') options.payload = r.body
      const started = performance.now()
      const res = await server.app.inject(options)
      const ms = performance.now() - started
      const key = `${method} ${route.path}`
      if (!seen.has(key)) seen.set(key, new Set())
      seen.get(key)!.add(res.statusCode)
      assert.ok(res.statusCode < 500, `${method} ${url} -> ${res.statusCode} ${res.body.slice(0, 300)}`)
      assert.ok(ms < MAX_ANSWER_MS, `${method} ${url} took ${Math.round(ms)} ms`)
      assert.ok(!/\bat .+\.(ts|js):\d+/.test(res.body), `${method} ${url}: stack trace in the body`)
      if (res.statusCode >= 400) {
        const type = String(res.headers['content-type'])
        // The OAuth endpoints answer their own errors in RFC 6749 section 5.2 JSON; everything else in RFC 9457.
        const oauthError = route.path.startsWith('/oauth2/') && type.startsWith('application/json') && /^\{"error":"/.test(res.body)
        assert.ok(type.startsWith('application/problem+json') || oauthError, `${method} ${url} -> ${res.statusCode} ${type}`)
        assert.equal(res.headers['x-content-type-options'], 'nosniff', `${method} ${url} -> ${res.statusCode}`)
        assert.ok(!echoes(res.body, r.param), `${method} ${url} -> ${res.statusCode}: the parameter is echoed: ${res.body.slice(0, 300)}`)
        if (options.payload !== undefined) assert.ok(!echoes(res.body, r.body), `${method} ${url} -> ${res.statusCode}: the body is echoed: ${res.body.slice(0, 300)}`)
      }
    }),
    { numRuns: RUNS },
  )
  assert.deepEqual(unhandled, [])
  // Every route was reached at least once.
  assert.ok(seen.size >= routes.length, `reached ${seen.size} of ${routes.length} routes`)
})
