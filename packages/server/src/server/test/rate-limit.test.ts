import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { after, before, test } from 'node:test'
import { redisStoreForTest } from '../../../../../test/support/redis.js'
import { MemoryRateLimiter, RedisRateLimiter } from '../rate-limiter.js'
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

const login = (server: TestServer, email: string, password: string, ip = '127.0.0.1', cookies: Record<string, string> = {}) =>
  server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, remoteAddress: ip, cookies })

function deviceCookieOf(res: { cookies: { name: string; value: string; path?: string; httpOnly?: boolean; sameSite?: string; maxAge?: number }[] }) {
  const cookie = res.cookies.find((c) => c.name === 'tessera_device')
  assert.ok(cookie, 'a successful sign-in sets the device cookie')
  return cookie
}

for (const redis of [true, false]) {
  void test(`a stranger's failed guesses lock the account for unknown clients, not the owner's known browser (${redis ? 'Redis' : 'memory'} limiter)`, async () => {
    await withServer(redis, async (server) => {
      const { email, login: first } = await signUp(server.app)
      const device = deviceCookieOf(first)
      assert.equal(device.path, '/auth/login')
      assert.equal(device.httpOnly, true)
      assert.equal(device.sameSite, 'Strict')
      for (let i = 0; i < 3; i++) assert.equal((await login(server, email, 'wrong password!!', `10.0.0.${i + 1}`)).statusCode, 401)
      // Locked for clients the account has never seen, right password or not.
      const limited = await login(server, email, PASSWORD, '10.0.0.9')
      assert.equal(limited.statusCode, 429)
      assert.equal(problemOf(limited).code, 'ERR_RATE_LIMITED')
      const retryAfter = Number(limited.headers['retry-after'])
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`)
      // The owner's browser, which signed in before, still gets in.
      const owner = await login(server, email, PASSWORD, '10.0.0.10', { tessera_device: device.value })
      assert.equal(owner.statusCode, 200)
      // A device cookie for another account, or a forged one, is a stranger.
      const other = await signUp(server.app)
      assert.equal((await login(server, email, PASSWORD, '10.0.0.11', { tessera_device: deviceCookieOf(other.login).value })).statusCode, 429)
      assert.equal((await login(server, email, PASSWORD, '10.0.0.11', { tessera_device: device.value.slice(0, -2) + 'AA' })).statusCode, 429)
      // A known browser's own failures lock that browser only.
      const known = deviceCookieOf(owner).value
      for (let i = 0; i < 3; i++) assert.equal((await login(server, email, 'wrong password!!', '10.0.0.12', { tessera_device: known })).statusCode, 401)
      assert.equal((await login(server, email, PASSWORD, '10.0.0.12', { tessera_device: known })).statusCode, 429)
      // The limit is per account: another account from the same address still signs in.
      assert.equal(other.login.statusCode, 200)
    })
  })
}

void test('successful sign-ins do not count toward the account lockout', async () => {
  await withServer(true, async (server) => {
    const { email } = await signUp(server.app)
    // Six devices signing in within a minute, the limit being three failures.
    for (let i = 0; i < 5; i++) assert.equal((await login(server, email, PASSWORD, `10.1.0.${i + 1}`)).statusCode, 200)
  })
})

void test('login is limited per ip whatever the accounts tried', async () => {
  await withServer(true, async (server) => {
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) statuses.push((await login(server, uniqueEmail('spray'), 'wrong password!!', '10.9.9.9')).statusCode)
    // 6 a minute from one address, each account tried once
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
  assert.deepEqual(second, { allowed: false, retryAfterMs: 10_000, retryAfterSeconds: 10 })
  t.mock.timers.tick(10_001)
  assert.equal((await limiter.hit('k', rule)).allowed, true)
})

void test("the Redis limiter's keys hold neither an email nor a hash anyone could recompute from one: an account's key is an HMAC under the key derived from the token key", async (t) => {
  const redis = await redisStoreForTest('limiter-keys')
  t.after(() => redis.cleanup())
  const server = await testServer({ schema: schema.schema, app: { rateLimits: limits, limiter: new RedisRateLimiter(redis.store.connection, redis.prefix) } })
  t.after(() => server.close())
  const { email } = await signUp(server.app)
  const typed = `  ${email.toUpperCase()}  `
  assert.equal((await login(server, typed, 'wrong password!!', '10.2.0.1')).statusCode, 401)
  // A reset request counts against the account's daily mail cap (the mail itself is background work).
  assert.equal((await server.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { email: typed }, remoteAddress: '10.2.0.1' })).statusCode, 202)
  await server.app.backgroundSettled()

  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = (await redis.store.connection.send(['SCAN', cursor, 'MATCH', `${redis.prefix}rl:*`, 'COUNT', '1000'])) as [string, string[]]
    cursor = String(next)
    keys.push(...batch.map(String))
  } while (cursor !== '0')
  const mac = createHmac('sha256', server.auth.deriveKey('rate-limiter keys v1')).update(email).digest('base64url').slice(0, 22)
  assert.ok(keys.includes(`${redis.prefix}rl:{login-account:${mac}}`), `no login-account key under the HMAC among ${keys.join(' ')}`)
  assert.ok(keys.includes(`${redis.prefix}rl:{mail-account:${mac}}`), `no mail-account key under the HMAC among ${keys.join(' ')}`)
  const forbidden = [email, typed, typed.trim(), email.split('@')[0]!].flatMap((spelling) => {
    const digest = createHash('sha256').update(spelling).digest()
    return [spelling, digest.toString('hex'), digest.toString('base64url'), digest.toString('base64'), digest.toString('base64url').slice(0, 22)]
  })
  for (const key of keys) {
    for (const value of forbidden) assert.ok(!key.toLowerCase().includes(value.toLowerCase()), `${key} holds ${value}`)
  }
})
