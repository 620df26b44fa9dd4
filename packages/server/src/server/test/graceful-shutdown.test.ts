import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PASSWORD, testSchema, testServer, uniqueEmail } from './helpers.js'

void test('closing the app lets an in-flight login finish and refuses new connections', async (t) => {
  const s = await testSchema()
  const server = await testServer({ schema: s.schema })
  t.after(async () => {
    await server.close()
    await s.drop()
  })
  let arrived: () => void = () => {}
  const loginArrived = new Promise<void>((resolve) => (arrived = resolve))
  server.app.addHook('preHandler', async (request) => {
    if (request.url === '/auth/login') arrived()
  })
  await server.app.listen({ port: 0, host: '127.0.0.1' })
  const address = server.app.server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  const email = uniqueEmail()
  const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  assert.equal((await post('/auth/register', { email, password: PASSWORD })).status, 202)

  // The login spends ~100 ms in argon2 after its handler starts; close right then.
  const inFlight = post('/auth/login', { email, password: PASSWORD })
  await loginArrived
  const closeStarted = Date.now()
  const closing = server.app.close()
  const login = await inFlight
  assert.equal(login.status, 200)
  assert.ok(((await login.json()) as { access_token?: string }).access_token)
  await closing
  // The drained connection must not idle on for the keep-alive timeout (72 s) after its answer.
  assert.ok(Date.now() - closeStarted < 5000, `close took ${Date.now() - closeStarted} ms`)
  await assert.rejects(fetch(`${url}/healthz`))
})
