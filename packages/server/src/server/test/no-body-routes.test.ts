// Routes that take no body accept what many HTTP clients send on them:
// `Content-Type: application/json` with an empty body. Bad JSON is still a 400.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { bearer, problemOf, signUp, testSchema, testServer, type TestServer } from './helpers.js'

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

const JSON_TYPE = { 'content-type': 'application/json' }

void test('POST /auth/logout with Content-Type: application/json and an empty body signs out (204)', async () => {
  const { tokens } = await signUp(server.app)
  const res = await server.app.inject({ method: 'POST', url: '/auth/logout', headers: { ...bearer(tokens.access_token), ...JSON_TYPE }, payload: '' })
  assert.equal(res.statusCode, 204, res.body)
  const me = await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) })
  assert.equal(me.statusCode, 401)
})

void test('POST /auth/logout-all with an empty JSON body ends every session', async () => {
  const { tokens } = await signUp(server.app)
  const res = await server.app.inject({ method: 'POST', url: '/auth/logout-all', headers: { ...bearer(tokens.access_token), ...JSON_TYPE }, payload: '' })
  assert.equal(res.statusCode, 204, res.body)
})

void test('a route that needs a body still answers an empty one with a 400 naming the missing field', async () => {
  const res = await server.app.inject({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: '' })
  const problem = problemOf(res)
  assert.equal(problem.status, 400)
  assert.equal(problem.code, 'ERR_VALIDATION')
  assert.match(problem.detail, /email/)
})

void test('malformed JSON is still a 400, and a poisoned __proto__ is still refused', async () => {
  const bad = await server.app.inject({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: '{"email":' })
  assert.equal(problemOf(bad).status, 400)
  const poisoned = await server.app.inject({ method: 'POST', url: '/auth/login', headers: JSON_TYPE, payload: '{"__proto__":{"x":1},"email":"a@b.c","password":"p"}' })
  assert.equal(problemOf(poisoned).status, 400)
})
