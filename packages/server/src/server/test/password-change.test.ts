// Changing the password to the one in use changes nothing and would still sign
// every other device out: it is refused with a clear 400.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { PASSWORD, bearer, problemOf, signUp, testSchema, testServer, type TestServer } from './helpers.js'

let server: TestServer
let drop: () => Promise<void>
before(async () => {
  const s = await testSchema()
  drop = () => s.drop()
  server = await testServer({ schema: s.schema })
})
after(async () => {
  await server.close()
  await drop()
})

void test('a change to the same password is refused (400 ERR_WEAK_PASSWORD) and the other devices stay signed in', async () => {
  const { email, tokens } = await signUp(server.app)
  const other = await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })
  assert.equal(other.statusCode, 200)
  const res = await server.app.inject({ method: 'POST', url: '/auth/password', headers: bearer(tokens.access_token), payload: { current_password: PASSWORD, new_password: PASSWORD } })
  const problem = problemOf(res)
  assert.equal(problem.status, 400)
  assert.equal(problem.code, 'ERR_WEAK_PASSWORD')
  assert.match(problem.detail, /new_password is the current password/)
  const me = await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(other.json<{ access_token: string }>().access_token) })
  assert.equal(me.statusCode, 200, 'the other device is still signed in')
})
