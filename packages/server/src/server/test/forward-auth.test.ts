import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../config.js'
import { waitFor } from '../../../../../test/support/redis.js'
import { bearer, signUp, testSchema, testServer } from './helpers.js'

test('the gateway handler mounted in the server: /auth/forward follows revocations like the gateway', async (t) => {
  const s = await testSchema()
  const server = await testServer({ schema: s.schema, redis: true, app: { forwardAuth: { headers: { claims: { jti: 'X-Tessera-Token-Id' } } } } })
  t.after(async () => {
    await server.close()
    await s.drop()
  })
  const { app } = server
  const { userId, tokens } = await signUp(app)
  const ok = await app.inject({ method: 'GET', url: '/auth/forward', headers: { ...bearer(tokens.access_token), 'x-tessera-user': 'root' } })
  assert.equal(ok.statusCode, 200)
  assert.equal(ok.headers['x-tessera-user'], userId)
  assert.equal(ok.headers['x-tessera-session'], tokens.session_id)
  assert.match(String(ok.headers['x-tessera-token-id']), /^[A-Za-z0-9_-]+$/)
  assert.equal(ok.headers['cache-control'], 'no-store')
  // Envoy's path prefix: the original path follows the mount point; any method.
  assert.equal((await app.inject({ method: 'DELETE', url: '/auth/forward/orders/1', headers: bearer(tokens.access_token) })).statusCode, 200)
  const none = await app.inject({ method: 'GET', url: '/auth/forward' })
  assert.equal(none.statusCode, 401)
  assert.match(String(none.headers['www-authenticate']), /^Bearer(, DPoP algs="[^"]+")?$/)

  const logout = await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(tokens.access_token) })
  assert.ok(logout.statusCode < 300, logout.body)
  await waitFor(async () => (await app.inject({ method: 'GET', url: '/auth/forward', headers: bearer(tokens.access_token) })).statusCode === 401, 5000, 5)
})

test('the server mounts /auth/forward only when asked (TESSERA_FORWARD_AUTH)', async (t) => {
  const s = await testSchema()
  const server = await testServer({ schema: s.schema })
  t.after(async () => {
    await server.close()
    await s.drop()
  })
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/forward' })).statusCode, 404)
  assert.equal(loadConfig({}).forwardAuth, null)
  assert.deepEqual(loadConfig({ TESSERA_FORWARD_AUTH: 'true', TESSERA_GATEWAY_CLAIM_HEADERS: 'scope=X-Scope' }).forwardAuth, { headers: { claims: { scope: 'X-Scope' } } })
  assert.throws(() => loadConfig({ TESSERA_FORWARD_AUTH: 'true', TESSERA_GATEWAY_USER_HEADER: 'Cookie' }), /belongs to the proxy/)
})
