import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { MemoryRateLimiter } from '../rate-limiter.js'
import { PASSWORD, problemOf, signUp, testSchema, testServer, uniqueEmail, type TestServer } from './helpers.js'

let schema: Awaited<ReturnType<typeof testSchema>>
before(async () => {
  schema = await testSchema()
})
after(() => schema.drop())

const limits = {
  loginPerIp: { max: 6, windowSeconds: 60 },
  loginPerAccount: { max: 3, windowSeconds: 60 },
  refreshPerIp: { max: 1000, windowSeconds: 60 },
  sensitivePerIp: { max: 1000, windowSeconds: 60 },
}

async function withServer(redis: boolean, body: (server: TestServer) => Promise<void>) {
  const server = await testServer({ schema: schema.schema, redis, app: { rateLimits: limits } })
  try {
    await body(server)
  } finally {
    await server.close()
  }
}

const login = (server: TestServer, email: string, password: string, ip = '127.0.0.1') =>
  server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, remoteAddress: ip })

for (const redis of [true, false]) {
  void test(`login is limited per account with 429 and Retry-After (${redis ? 'Redis' : 'memory'} limiter)`, async () => {
    await withServer(redis, async (server) => {
      const { email } = await signUp(server.app)
      // signUp used one attempt on this account.
      for (let i = 0; i < 2; i++) assert.equal((await login(server, email, 'wrong password!!', `10.0.0.${i + 1}`)).statusCode, 401)
      const limited = await login(server, email, PASSWORD, '10.0.0.9')
      assert.equal(limited.statusCode, 429)
      assert.equal(problemOf(limited).code, 'ERR_RATE_LIMITED')
      const retryAfter = Number(limited.headers['retry-after'])
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`)
      // The limit is per account: another account from the same address still signs in.
      const other = await signUp(server.app)
      assert.equal(other.login.statusCode, 200)
    })
  })
}

void test('login is limited per ip whatever the accounts tried', async () => {
  await withServer(true, async (server) => {
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) statuses.push((await login(server, uniqueEmail('spray'), 'wrong password!!', '10.9.9.9')).statusCode)
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 429])
    assert.equal((await login(server, uniqueEmail('spray'), 'wrong password!!', '10.9.9.10')).statusCode, 401)
  })
})

void test('the memory limiter resets after its window', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
  const limiter = new MemoryRateLimiter()
  const rule = { max: 1, windowSeconds: 10 }
  assert.equal((await limiter.hit('k', rule)).allowed, true)
  const second = await limiter.hit('k', rule)
  assert.deepEqual(second, { allowed: false, retryAfterSeconds: 10 })
  t.mock.timers.tick(10_001)
  assert.equal((await limiter.hit('k', rule)).allowed, true)
})
