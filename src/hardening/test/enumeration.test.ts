// No account enumeration: an unknown email and a wrong password (login), an
// unknown and a known email (password reset) get the same status and body,
// and take the same time (medians within 10%: 200 interleaved logins, 1000 resets).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { InjectOptions } from 'fastify'
import { waitFor } from '../../test-support/redis.js'
import { signUp, testSchema, testServer, uniqueEmail, type TestServer } from '../../server/test/helpers.js'

const TRIES = 200
const RESET_TRIES = 1000
const MAX_RELATIVE_DIFFERENCE = 0.1
const LIMITS = { max: 100_000, windowSeconds: 60 }

let server: TestServer
let drop: () => Promise<void>
before(async () => {
  const s = await testSchema()
  drop = s.drop
  server = await testServer({
    schema: s.schema,
    redis: true,
    // Timing is the subject here, not the limiter: every try must reach the password check.
    app: { rateLimits: { loginPerIp: LIMITS, loginPerAccount: LIMITS, refreshPerIp: LIMITS, sensitivePerIp: LIMITS } },
  })
})
after(async () => {
  await server.close()
  await drop()
})

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/**
 * Runs the two requests strictly alternately and returns the median time of
 * each. Alternating evens out drift in machine load, and it gives both kinds
 * the same history: work a request leaves running after its answer (the reset
 * mail) lands on the next requests, so a pattern where one kind more often
 * follows the other would measure that, not the request itself.
 */
async function timeBoth(a: () => InjectOptions, b: () => InjectOptions, settle?: () => Promise<void>, tries = TRIES): Promise<{ a: number; b: number; statuses: Set<string> }> {
  const times = { a: [] as number[], b: [] as number[] }
  const statuses = new Set<string>()
  for (let i = 0; i < tries; i++) {
    const pair = [['a', a], ['b', b]] as ['a' | 'b', () => InjectOptions][]
    // Settled requests are independent, so their order is drawn at random: a fixed order would time the pause before each kind.
    for (const [name, make] of settle && Math.random() < 0.5 ? pair.reverse() : pair) {
      const options = make()
      await settle?.()
      const started = process.hrtime.bigint()
      const res = await server.app.inject(options)
      times[name].push(Number(process.hrtime.bigint() - started) / 1e6)
      statuses.add(`${name}:${res.statusCode}`)
    }
  }
  return { a: median(times.a), b: median(times.b), statuses }
}

function assertClose(label: string, a: number, b: number): void {
  const difference = Math.abs(a - b) / Math.max(a, b)
  console.log(`${label}: medians ${a.toFixed(2)} ms vs ${b.toFixed(2)} ms, difference ${(difference * 100).toFixed(1)}%`)
  assert.ok(difference < MAX_RELATIVE_DIFFERENCE, `${label}: ${a.toFixed(2)} ms vs ${b.toFixed(2)} ms (${(difference * 100).toFixed(1)}%)`)
}

void test('login with an unknown email and with a wrong password: same status, same body, same time', async () => {
  const { email } = await signUp(server.app)
  const wrong = { method: 'POST', url: '/auth/login', payload: { email, password: 'wrong password here' } } as const
  const unknown = () => ({ method: 'POST', url: '/auth/login', payload: { email: uniqueEmail('ghost'), password: 'wrong password here' } }) as const
  const first = await server.app.inject(wrong)
  const second = await server.app.inject(unknown())
  assert.equal(first.statusCode, 401)
  assert.equal(second.statusCode, 401)
  assert.deepEqual(first.json(), second.json())
  assert.deepEqual(Object.keys(first.headers).sort(), Object.keys(second.headers).sort())
  const { a, b, statuses } = await timeBoth(() => wrong, unknown)
  assert.deepEqual([...statuses].sort(), ['a:401', 'b:401'])
  assertClose('login wrong password vs unknown email', a, b)
})

/** Counts the reset mails' background work (lookup, then mail for a known email), so a test can wait until it is done. */
function trackResetWork(): { settled: () => Promise<void> } {
  const users = server.users
  const mailer = server.mailer
  const lookup = users.findByEmail.bind(users)
  const send = mailer.send.bind(mailer)
  let inFlight = 0
  users.findByEmail = async (email) => {
    inFlight++
    const user = await lookup(email)
    // A found user is followed by a token and a mail: still in flight until the mail is sent.
    if (!user) inFlight--
    return user
  }
  mailer.send = async (message) => {
    try {
      await send(message)
    } finally {
      inFlight--
    }
  }
  return {
    async settled() {
      await waitFor(() => inFlight === 0, 5000, 1)
      // Not synchronisation (the poll above is): every timed request then starts from the same event-loop phase,
      // whether the poll returned at once (after an unknown email) or after a few timer turns (after a known one).
      await new Promise((resolve) => setTimeout(resolve, 1))
    },
  }
}

void test('password reset for an unknown and a known email: same status, same body, same time', async () => {
  const { email } = await signUp(server.app)
  const known = { method: 'POST', url: '/auth/password-reset', payload: { email } } as const
  const ghost = uniqueEmail('ghost')
  const unknown = () => ({ method: 'POST', url: '/auth/password-reset', payload: { email: ghost } }) as const
  const work = trackResetWork()
  const first = await server.app.inject(known)
  const second = await server.app.inject(unknown())
  assert.equal(first.statusCode, 202)
  assert.equal(second.statusCode, 202)
  assert.equal(first.body, second.body)
  // A reset answers in about a millisecond, where machine noise is large: more tries steady the medians.
  const { a, b, statuses } = await timeBoth(() => known, unknown, work.settled, RESET_TRIES)
  assert.deepEqual([...statuses].sort(), ['a:202', 'b:202'])
  assertClose('password reset known vs unknown email', a, b)
})

void test('password reset back to back: the work left after a known email does not slow the next answers', async () => {
  const { email } = await signUp(server.app)
  const known = { method: 'POST', url: '/auth/password-reset', payload: { email } } as const
  const ghost = uniqueEmail('ghost')
  const unknown = () => ({ method: 'POST', url: '/auth/password-reset', payload: { email: ghost } }) as const
  const { a, b } = await timeBoth(() => known, unknown, undefined, RESET_TRIES)
  assertClose('password reset back to back, known vs unknown email', a, b)
})
