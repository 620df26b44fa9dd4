// Password guessing: per-account and per-IP login limits, lockout that backs
// off when the guessing goes on, and a limiter that fails closed when Redis
// is gone (no password is checked without a counter).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { SHARED_REDIS_URL, startPrivateRedis } from '../../support/redis.js'
import { createDeployment, registerAndLogin, startInstance, type Deployment, type HardeningServer } from '../harness.js'

let deployment: Deployment
let server: HardeningServer
before(async () => {
  deployment = await createDeployment({ redisUrl: SHARED_REDIS_URL })
  server = await startInstance(deployment, {
    rateLimits: { loginPerAccount: { max: 5, windowSeconds: 60 }, loginPerIp: { max: 12, windowSeconds: 60 } },
  })
})
after(async () => {
  await server.close()
  await deployment.drop()
})

function login(email: string, password: string, ip: string) {
  return server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, remoteAddress: ip })
}

void test('an account is locked after 5 failed guesses, even for the right password and for another spelling of the email, with Retry-After', async () => {
  const user = await registerAndLogin(server.app)
  // Each guess from its own address: the account limit, not the IP limit, is under test. The sign-in above does not count.
  for (let i = 0; i < 5; i++) assert.equal((await login(user.email, `wrong guess number ${i}`, `10.1.0.${i + 1}`)).statusCode, 401)
  const locked = await login(user.email.toUpperCase(), user.password, '10.1.0.50')
  assert.equal(locked.statusCode, 429)
  assert.equal(locked.json().code, 'ERR_RATE_LIMITED')
  assert.ok(Number(locked.headers['retry-after']) >= 1)
  const again = await login(user.email, user.password, '10.1.0.51')
  assert.equal(again.statusCode, 429)
  // Another account from one of the same addresses is not affected.
  const other = await registerAndLogin(server.app)
  assert.equal((await login(other.email, other.password, '10.1.0.1')).statusCode, 200)
})

void test('one address is limited across many accounts (credential stuffing), others are not', async () => {
  const ip = '10.2.0.1'
  const statuses: number[] = []
  for (let i = 0; i < 14; i++) statuses.push((await login(`nobody-${i}-${Date.now()}@example.com`, 'some password guess', ip)).statusCode)
  assert.deepEqual(statuses.slice(0, 12), Array(12).fill(401))
  assert.deepEqual(statuses.slice(12), [429, 429])
  assert.equal((await login('someone@example.com', 'some password guess', '10.2.0.2')).statusCode, 401)
})

void test('a lockout that is sat out and guessed into again backs off: each Retry-After is longer than the last', async (t) => {
  const local = await startInstance(deployment, { rateLimits: { loginPerAccount: { max: 2, windowSeconds: 1 }, loginPerIp: { max: 1000, windowSeconds: 60 } } })
  t.after(() => local.close())
  const user = await registerAndLogin(local.app)
  const retryAfters: number[] = []
  for (let round = 0; round < 3; round++) {
    let res
    do {
      res = await local.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password: 'wrong guess again' }, remoteAddress: '10.3.0.1' })
    } while (res.statusCode === 401)
    assert.equal(res.statusCode, 429)
    const retryAfter = Number(res.headers['retry-after'])
    retryAfters.push(retryAfter)
    // Sit the lockout out, then guess again.
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 50))
  }
  assert.ok(retryAfters[1]! > retryAfters[0]! && retryAfters[2]! > retryAfters[1]!, `Retry-After per lockout: ${retryAfters.join(', ')} s`)
})

void test('with Redis gone the limiter fails closed: 503, and no password is checked', async (t) => {
  const redis = await startPrivateRedis()
  t.after(() => redis.stop('SIGKILL'))
  const local = await createDeployment({ redisUrl: redis.url })
  t.after(() => local.drop())
  const instance = await startInstance(local)
  t.after(() => instance.close())
  const user = await registerAndLogin(instance.app)
  await redis.stop('SIGKILL')
  for (const password of [user.password, 'a wrong guess here']) {
    const started = performance.now()
    const res = await instance.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password } })
    assert.equal(res.statusCode, 503)
    assert.equal(res.json().code, 'ERR_RATE_LIMITER_UNAVAILABLE')
    // No argon2 verification ran: a refusal before the password check is fast.
    assert.ok(performance.now() - started < 1000)
  }
})
