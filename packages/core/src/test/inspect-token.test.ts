import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createTessera, MemoryStore } from '../index.js'

void test('inspectToken tells a current refresh token, a rotated one, an access token and garbage apart, changing nothing', async () => {
  const auth = await createTessera({ store: new MemoryStore(), issuer: 'https://auth.test', audience: 'api', refreshGraceSeconds: 0 })
  const login = await auth.createSession({ userId: 'inspect-user' })

  const refresh = await auth.inspectToken(login.refreshToken)
  assert.equal(refresh?.kind, 'refresh_token')
  assert.equal(refresh.kind === 'refresh_token' && refresh.active, true)
  assert.equal(refresh?.sessionId, login.sessionId)
  assert.equal(refresh?.userId, 'inspect-user')

  const access = await auth.inspectToken(login.accessToken)
  assert.equal(access?.kind, 'access_token')
  assert.equal(access?.kind === 'access_token' && access.claims.sessionId, login.sessionId)

  const next = await auth.refreshSession(login.refreshToken)
  const rotated = await auth.inspectToken(login.refreshToken)
  assert.equal(rotated?.kind === 'refresh_token' && rotated.active, false, 'a rotated-away refresh token is not active')
  // Inspecting the old token did not count as reuse: the session and its current token live on.
  assert.equal((await auth.inspectToken(next.refreshToken))?.kind === 'refresh_token', true)
  assert.notEqual(await auth.getSession(login.sessionId), null)

  for (const bad of ['', 'garbage', `${login.refreshToken}x`, `tsr1.${'a'.repeat(60)}`, login.accessToken.slice(0, -3)]) assert.equal(await auth.inspectToken(bad), null, bad)

  await auth.revokeSession(login.sessionId)
  const ended = await auth.inspectToken(next.refreshToken)
  assert.deepEqual(ended?.kind === 'refresh_token' && [ended.active, ended.session], [false, null])
})

void test('the token key stays inside the engine: options do not carry it', async () => {
  const auth = await createTessera({ tokenKey: 'a-token-key-of-at-least-32-bytes!!' })
  assert.equal('tokenKey' in auth.options, false)
  assert.equal(JSON.stringify(auth.options).includes('a-token-key'), false)
  await assert.rejects(createTessera({ tokenKey: 'short' }), /"tokenKey" option must be at least 32 bytes/)
})

void test('a shared store without a token key is an error at start, not a per-process key', async () => {
  // A second process with its own random key would refuse the first one's refresh tokens.
  const shared = Object.assign(new MemoryStore(), { shared: true })
  await assert.rejects(createTessera({ store: shared }), { name: 'TypeError', message: /"tokenKey" option is required with a shared store/ })
  const auth = await createTessera({ store: shared, tokenKey: 'a-token-key-of-at-least-32-bytes!!' })
  await auth.close()
  // A single-process store keeps the embedded default.
  await (await createTessera({ store: new MemoryStore() })).close()
})

void test('sign-in and refresh give the access token expiry in epoch ms (accessTokenExpiresAtMs), the unit of session.expiresAtMs', async () => {
  const auth = await createTessera({ store: new MemoryStore(), issuer: 'https://auth.test', audience: 'api' })
  for (const tokens of [await auth.createSession({ userId: 'units-user' })]) {
    const next = await auth.refreshSession(tokens.refreshToken)
    for (const t of [tokens, next]) {
      const claims = await auth.verifyAccessToken(t.accessToken)
      assert.equal(t.accessTokenExpiresAtMs, claims.expiresAt * 1000)
      assert.equal(t.accessTokenExpiresAt, claims.expiresAt)
      assert.ok(t.accessTokenExpiresAtMs <= t.session.expiresAtMs)
    }
  }
  await auth.close()
})
