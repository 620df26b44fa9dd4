// A login storm is shed at the hashing queue with 503 and Retry-After,
// instead of making every request wait behind argon2id.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { closePasswordHashing, configurePasswordHashing } from '../../users/password.js'
import { PASSWORD, problemOf, signUp, testSchema, testServer, type TestServer } from './helpers.js'

let server: TestServer
let drop: () => Promise<void>
before(async () => {
  // One hashing process and no queue: the second password check at once is over the limit.
  configurePasswordHashing({ size: 1, maxQueued: 0 })
  const schema = await testSchema()
  drop = schema.drop
  server = await testServer({ schema: schema.schema })
})
after(async () => {
  await server.close()
  await closePasswordHashing()
  await drop()
})

void test('password checks beyond the hashing queue get 503 ERR_PASSWORD_CHECKS_BUSY with Retry-After, and the rest sign in', async () => {
  const { email } = await signUp(server.app)
  const logins = await Promise.all(
    Array.from({ length: 6 }, () => server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })),
  )
  const statuses = logins.map((res) => res.statusCode)
  assert.ok(statuses.includes(200), `statuses ${statuses.join(',')}`)
  const shed = logins.filter((res) => res.statusCode === 503)
  assert.ok(shed.length >= 1, `statuses ${statuses.join(',')}`)
  for (const res of shed) {
    assert.equal(problemOf(res).code, 'ERR_PASSWORD_CHECKS_BUSY')
    assert.ok(Number(res.headers['retry-after']) >= 1)
  }
  // Nothing but 200 and 503: a shed login is never reported as a wrong password.
  assert.deepEqual(statuses.filter((status) => status !== 200 && status !== 503), [])
})
