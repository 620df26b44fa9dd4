// What an outsider can learn or try: OAuth client authentication is rate
// limited (per address, and per client id without locking the real client out), and /metrics (sign-in and reuse
// counters) is not on the public port unless a token or a listener of its
// own is configured.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { freePort } from '../../../../../test/support/redis.js'
import { ConfigError, loadConfig } from '../config.js'
import { PASSWORD, problemOf, testSchema, testServer, uniqueEmail } from './helpers.js'
import { serve } from './serve-child.js'

let schema: Awaited<ReturnType<typeof testSchema>>
before(async () => {
  schema = await testSchema()
})
after(() => schema.drop())

const CLIENT = { id: 'resource-server', secret: 'client-secret-of-enough-length' }
const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` })
const METRICS_TOKEN = 'metrics-token-of-at-least-24-characters'

void test('failed OAuth client authentications lock the guessing address (429, before any secret is compared); failures per client id from anywhere answer guessers 429 but never lock the real client out', async () => {
  const rateLimits = { clientAuthPerIp: { max: 5, windowSeconds: 60 }, clientAuthPerClient: { max: 8, windowSeconds: 60 } }
  const server = await testServer({ schema: schema.schema, app: { clients: new Map([[CLIENT.id, CLIENT.secret]]), rateLimits } })
  try {
    const introspect = (headers: Record<string, string>, remoteAddress: string) =>
      server.app.inject({ method: 'POST', url: '/oauth2/introspect', remoteAddress, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: 'token=abc' })
    for (let i = 0; i < 5; i++) assert.equal((await introspect(basic(CLIENT.id, `wrong-secret-${i}-xxxxxxxx`), '198.51.100.1')).statusCode, 401)
    const limited = await introspect(basic(CLIENT.id, CLIENT.secret), '198.51.100.1')
    assert.equal(limited.statusCode, 429, 'even the right secret, from the locked address')
    const retryAfter = Number(limited.headers['retry-after'])
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`)
    assert.equal(limited.json<{ error: string }>().error, 'temporarily_unavailable')
    // Another address still gets in with the right secret; the client id has 5 of its 8 failures.
    assert.equal((await introspect(basic(CLIENT.id, CLIENT.secret), '198.51.100.2')).statusCode, 200)
    // Guesses spread over addresses (one each) reach the client id's limit: from then on a wrong secret gets 429, not 401.
    for (let i = 0; i < 3; i++) assert.equal((await introspect(basic(CLIENT.id, 'spread-guess-xxxxxxxxxx'), `203.0.113.${i + 1}`)).statusCode, 401)
    const guess = await introspect(basic(CLIENT.id, 'spread-guess-yyyyyyyyyy'), '203.0.113.9')
    assert.equal(guess.statusCode, 429, 'a guesser from a fresh address is told to wait')
    assert.ok(Number(guess.headers['retry-after']) >= 1 && Number(guess.headers['retry-after']) <= 60)
    // The real client is not locked out by strangers: the right secret from an address that never failed still passes.
    assert.equal((await introspect(basic(CLIENT.id, CLIENT.secret), '192.0.2.50')).statusCode, 200)
    assert.equal((await server.app.inject({ method: 'POST', url: '/oauth2/revoke', remoteAddress: '192.0.2.51', headers: { 'content-type': 'application/x-www-form-urlencoded', ...basic(CLIENT.id, CLIENT.secret) }, payload: 'token=abc' })).statusCode, 200)
    // The guessing address stays locked on every endpoint (they share the locks), and its lock backs off.
    assert.equal((await server.app.inject({ method: 'POST', url: '/oauth2/revoke', remoteAddress: '198.51.100.1', headers: { 'content-type': 'application/x-www-form-urlencoded', ...basic(CLIENT.id, CLIENT.secret) }, payload: 'token=abc' })).statusCode, 429)
    // Wrong secrets under the client id's limit still count against their address: one address locks itself.
    for (let i = 0; i < 5; i++) assert.equal((await introspect(basic(CLIENT.id, `more-guesses-${i}-xxxxxxxx`), '203.0.113.20')).statusCode, 429)
    assert.equal((await introspect(basic(CLIENT.id, CLIENT.secret), '203.0.113.20')).statusCode, 429, 'five failures lock this address, even for the right secret')
  } finally {
    await server.close()
  }
})

void test('/metrics is off on the app by default (404), and with a token answers only to it', async () => {
  const off = await testServer({ schema: schema.schema })
  try {
    const res = await off.app.inject({ method: 'GET', url: '/metrics' })
    assert.equal(res.statusCode, 404)
    assert.doesNotMatch(res.body, /tessera_logins_total/)
  } finally {
    await off.close()
  }
  const guarded = await testServer({ schema: schema.schema, app: { metricsAccess: { token: METRICS_TOKEN } } })
  try {
    const anonymous = await guarded.app.inject({ method: 'GET', url: '/metrics' })
    assert.equal(anonymous.statusCode, 401)
    assert.equal(problemOf(anonymous).code, 'ERR_UNAUTHENTICATED')
    assert.equal((await guarded.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}x` } })).statusCode, 401)
    const scraped = await guarded.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    assert.equal(scraped.statusCode, 200)
    assert.match(scraped.body, /tessera_logins_total/)
  } finally {
    await guarded.close()
  }
})

void test('the /metrics token is read by the verifier\'s bearer parser: any secret without spaces works, a refusal challenges with a bare Bearer', async () => {
  // `!` and `#` are outside RFC 6750's token68; the server's own parser refused such a secret even when it was right.
  const token = 'metrics!token#of-at-least-24-characters'
  const guarded = await testServer({ schema: schema.schema, app: { metricsAccess: { token } } })
  try {
    const anonymous = await guarded.app.inject({ method: 'GET', url: '/metrics' })
    assert.equal(anonymous.statusCode, 401)
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer')
    assert.equal((await guarded.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
    assert.equal((await guarded.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token} extra` } })).statusCode, 401)
  } finally {
    await guarded.close()
  }
})

void test('metrics settings: a short token and a malformed listen address are refused', () => {
  assert.equal(loadConfig({}).metricsToken, null)
  assert.equal(loadConfig({}).metricsListen, null)
  assert.throws(() => loadConfig({ TESSERA_METRICS_TOKEN: 'short' }), ConfigError)
  assert.deepEqual(loadConfig({ TESSERA_METRICS_LISTEN: '127.0.0.1:9464' }).metricsListen, { host: '127.0.0.1', port: 9464 })
  assert.deepEqual(loadConfig({ TESSERA_METRICS_LISTEN: '[::1]:9464' }).metricsListen, { host: '::1', port: 9464 })
  for (const bad of ['9464', '127.0.0.1', '127.0.0.1:99999', '[nothost]:1', 'a:b:1']) assert.throws(() => loadConfig({ TESSERA_METRICS_LISTEN: bad }), ConfigError, bad)
})

void test('tessera serve with TESSERA_METRICS_LISTEN serves /metrics there only, not on the public port', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-metrics-'))
  const metricsPort = await freePort()
  const server = serve({ PORT: '0', TESSERA_DATA_DIR: dataDir, TESSERA_METRICS_LISTEN: `127.0.0.1:${metricsPort}` })
  t.after(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL')
    await server.exited
    rmSync(dataDir, { recursive: true, force: true })
  })
  const url = await server.listening
  assert.match(server.output().stdout, new RegExp(`metrics: http://127\\.0\\.0\\.1:${metricsPort}/metrics`))
  const email = uniqueEmail()
  await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) })
  assert.equal((await fetch(`${url}/metrics`)).status, 404)
  const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
  assert.equal(scraped.status, 200)
  assert.match(await scraped.text(), /tessera_logins_total\{outcome="ERR_INVALID_CREDENTIALS"\} 1/)
  assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/auth/me`)).status, 404)
  server.child.kill('SIGTERM')
  assert.equal(await server.exited, 0)
})
