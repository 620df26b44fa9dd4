import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryStore, StoreUnavailable, type SessionStore } from '@tessera/core'
import { startPrivateRedis, waitFor, type PrivateRedis } from '../../../../../test/support/redis.js'
import { PASSWORD, bearer, problemOf, signUp, testSchema, testServer, type TestServer } from './helpers.js'

void test('with Redis down, protected routes, refresh and login answer 503 with Retry-After within a second, then recover by themselves', async (t) => {
  const schema = await testSchema()
  let redis: PrivateRedis = await startPrivateRedis()
  const opened: { server?: TestServer } = {}
  // One hook, in this order: the server's clean-up needs its Redis up, and the Redis must stop even on failure.
  t.after(async () => {
    try {
      if (redis.process.exitCode === null && redis.process.signalCode === null) await opened.server?.close()
    } finally {
      await redis.stop('SIGKILL')
      await schema.drop()
    }
  })
  const server = await testServer({ schema: schema.schema, redis: true, redisUrl: redis.url })
  opened.server = server
  const app = server.app
  const { email, tokens } = await signUp(server.app)
  assert.equal((await app.inject({ method: 'GET', url: '/demo/protected', headers: bearer(tokens.access_token) })).statusCode, 200)

  await redis.stop()
  const requests = {
    protected: () => app.inject({ method: 'GET', url: '/demo/protected', headers: bearer(tokens.access_token) }),
    refresh: () => app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } }),
    login: () => app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } }),
    sessions: () => app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(tokens.access_token) }),
  }
  for (const [name, send] of Object.entries(requests)) {
    const started = performance.now()
    const res = await send()
    const elapsedMs = performance.now() - started
    assert.equal(res.statusCode, 503, `${name}: ${res.body}`)
    assert.ok(Number(res.headers['retry-after']) >= 1, `${name} has Retry-After`)
    assert.match(problemOf(res).code, /^ERR_(STORE|RATE_LIMITER)_UNAVAILABLE$/)
    assert.ok(elapsedMs < 1000, `${name} answered in ${Math.round(elapsedMs)} ms`)
  }
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  assert.equal(ready.statusCode, 503)
  assert.equal(ready.json().checks.session_store, false)

  redis = await startPrivateRedis([], { port: redis.port })
  // The restarted Redis has no persistence, so the old session is gone: recovery means new sign-ins work.
  await waitFor(async () => (await requests.login()).statusCode === 200, 10_000, 50)
  const fresh = (await requests.login()).json()
  assert.equal((await app.inject({ method: 'GET', url: '/demo/protected', headers: bearer(fresh.access_token) })).statusCode, 200)
  assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
})

void test('a 503 from the store logs at warn what the answer leaves out: which deadline passed and how long the call waited', async (t) => {
  const schema = await testSchema()
  t.after(() => schema.drop())
  // A memory store whose calls fail, once switched, as a Redis store's do when a command passes its deadline.
  const memory = new MemoryStore()
  let failing = false
  const reason = 'session store did not answer within its 300 ms command time limit (commandTimeoutMs; waited 312 ms)'
  const store = new Proxy(memory, {
    get(target, name) {
      const value: unknown = Reflect.get(target, name, target)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => (failing && name !== 'close' ? Promise.reject(new StoreUnavailable(reason)) : (value as (...a: unknown[]) => unknown).apply(target, args))
    },
  }) as SessionStore
  const lines: { level: number; msg: string; err?: { message?: string } }[] = []
  const logger = { level: 'warn', stream: { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) } }
  const server = await testServer({ schema: schema.schema, store, app: { logger } })
  t.after(() => server.close())
  const { tokens } = await signUp(server.app)

  failing = true
  // A protected route (the verifier adapter decides) and a route whose handler calls the store.
  const answers = [
    await server.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(tokens.access_token) }),
    await server.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } }),
  ]
  failing = false
  for (const res of answers) {
    assert.equal(res.statusCode, 503, res.body)
    assert.equal(problemOf(res).code, 'ERR_STORE_UNAVAILABLE')
  }
  const warnings = lines.filter((line) => line.level === 40 && line.err?.message === reason)
  assert.equal(warnings.length, 2, JSON.stringify(lines))
})
