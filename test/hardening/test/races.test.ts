// Refresh races and replays across three server processes on one private
// Redis: 50 concurrent refreshes of one token land on one lineage; a replay
// after the grace window revokes the session everywhere; logout, password
// change, password reset and ban each end the old tokens on every instance.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createTessera } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { startPrivateRedis, waitFor, type PrivateRedis } from '../../support/redis.js'
import { createDeployment, PASSWORD, type Deployment } from '../harness.js'

const ADMIN_TOKEN = 'race-admin-token-0123456789abcdef'
const GRACE_SECONDS = 1
const MAIN = fileURLToPath(new URL('../instance-main.ts', import.meta.url))

let redis: PrivateRedis
let deployment: Deployment
const children: ChildProcess[] = []
let urls: string[] = []

before(async () => {
  redis = await startPrivateRedis()
  deployment = await createDeployment({ redisUrl: redis.url })
  const spec = JSON.stringify({
    keys: JSON.stringify(deployment.keys.toJSON()),
    tokenKey: deployment.tokenKey,
    keyPrefix: deployment.keyPrefix,
    schema: deployment.schema,
    redisUrl: deployment.redisUrl,
    databaseUrl: deployment.databaseUrl,
    adminToken: ADMIN_TOKEN,
    refreshGraceSeconds: GRACE_SECONDS,
  })
  urls = await Promise.all(
    [0, 1, 2].map(async () => {
      const child = spawn(process.execPath, ['--conditions=tessera-source', '--import', 'tsx', MAIN], { env: { ...process.env, TESSERA_HARDENING_DEPLOYMENT: spec }, stdio: ['pipe', 'pipe', 'inherit'] })
      children.push(child)
      let out = ''
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
      await waitFor(() => /listening \d+/.test(out) || child.exitCode !== null, 30_000)
      const port = /listening (\d+)/.exec(out)?.[1]
      if (!port) throw new Error(`instance did not start: ${out}`)
      return `http://127.0.0.1:${port}`
    }),
  )
})
after(async () => {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      await once(child, 'exit')
    }),
  )
  await deployment?.drop()
  await redis?.stop()
})

async function call(instance: number, method: string, path: string, options: { body?: unknown; token?: string; admin?: boolean } = {}) {
  const headers: Record<string, string> = {}
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  if (options.token) headers.authorization = `Bearer ${options.token}`
  if (options.admin) headers.authorization = `Bearer ${ADMIN_TOKEN}`
  const res = await fetch(`${urls[instance % 3]}${path}`, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) })
  const text = await res.text()
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, string>) : {} }
}

let counter = 0
async function newUser() {
  const email = `race-${process.pid}-${++counter}@example.com`
  const reg = await call(0, 'POST', '/auth/register', { body: { email, password: PASSWORD } })
  assert.equal(reg.status, 202)
  // Registration answers alike for new and taken emails (no id): the id comes from a sign-in.
  const first = await call(0, 'POST', '/auth/login', { body: { email, password: PASSWORD } })
  const userId = (JSON.parse(Buffer.from(first.json.access_token!.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string }).sub
  return { email, userId, login: (instance: number) => call(instance, 'POST', '/auth/login', { body: { email, password: PASSWORD } }) }
}

void test('50 concurrent refreshes of one token on three instances all land on one lineage', async () => {
  const user = await newUser()
  const { json: first } = await user.login(0)
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => call(i, 'POST', '/auth/refresh', { body: { refresh_token: first.refresh_token } })))
  assert.deepEqual([...new Set(results.map((r) => r.status))], [200])
  const successors = new Set(results.map((r) => r.json.refresh_token))
  assert.equal(successors.size, 1, 'the racers forked the session')
  const [successor] = successors
  const next = await call(1, 'POST', '/auth/refresh', { body: { refresh_token: successor } })
  assert.equal(next.status, 200)
  assert.equal((await call(2, 'GET', '/auth/sessions', { token: next.json.access_token })).status, 200)
})

void test('a replay after the grace window revokes the session on every instance', async () => {
  const user = await newUser()
  const { json: first } = await user.login(0)
  const rotated = await call(1, 'POST', '/auth/refresh', { body: { refresh_token: first.refresh_token } })
  assert.equal(rotated.status, 200)
  await new Promise((resolve) => setTimeout(resolve, GRACE_SECONDS * 1000 + 200))
  const replay = await call(2, 'POST', '/auth/refresh', { body: { refresh_token: first.refresh_token } })
  assert.equal(replay.status, 401)
  assert.equal(replay.json.code, 'ERR_REFRESH_TOKEN_REUSED')
  for (const instance of [0, 1, 2]) {
    assert.equal((await call(instance, 'GET', '/auth/sessions', { token: rotated.json.access_token })).status, 401)
    assert.equal((await call(instance, 'POST', '/auth/refresh', { body: { refresh_token: rotated.json.refresh_token } })).status, 401)
  }
})

void test('logout on one instance ends the refresh and access tokens on the others', async () => {
  const user = await newUser()
  const { json: tokens } = await user.login(0)
  assert.equal((await call(0, 'POST', '/auth/logout', { token: tokens.access_token })).status, 204)
  assert.equal((await call(1, 'POST', '/auth/refresh', { body: { refresh_token: tokens.refresh_token } })).status, 401)
  assert.equal((await call(2, 'GET', '/auth/sessions', { token: tokens.access_token })).status, 401)
})

void test('a password change ends every other session on every instance, and keeps the one that changed it', async () => {
  const user = await newUser()
  const { json: mine } = await user.login(0)
  const { json: stolen } = await user.login(1)
  const change = await call(0, 'POST', '/auth/password', { token: mine.access_token, body: { current_password: PASSWORD, new_password: 'a brand new horse staple' } })
  assert.equal(change.status, 204)
  assert.equal((await call(1, 'POST', '/auth/refresh', { body: { refresh_token: stolen.refresh_token } })).status, 401)
  assert.equal((await call(2, 'GET', '/auth/sessions', { token: stolen.access_token })).status, 401)
  assert.equal((await call(2, 'GET', '/auth/sessions', { token: mine.access_token })).status, 200)
})

void test('a password reset ends every session on every instance', async () => {
  const user = await newUser()
  const { json: tokens } = await user.login(0)
  // The mailed token, issued as the server does (same deployment key), so the test needs no mailbox.
  const store = await RedisSessionStore.connect({ url: deployment.redisUrl, keyPrefix: deployment.keyPrefix })
  const auth = await createTessera({ store, keys: deployment.keys, tokenKey: deployment.tokenKey, issuer: 'https://auth.test', audience: 'api' })
  const { token } = await auth.issueOneTimeToken(user.userId, 'password-reset', { ttlSeconds: 600 })
  await store.close()
  assert.equal((await call(1, 'POST', '/auth/password-reset/confirm', { body: { token, new_password: 'a reset horse staple 9' } })).status, 204)
  assert.equal((await call(2, 'POST', '/auth/refresh', { body: { refresh_token: tokens.refresh_token } })).status, 401)
  assert.equal((await call(0, 'GET', '/auth/sessions', { token: tokens.access_token })).status, 401)
  assert.equal((await call(2, 'POST', '/auth/password-reset/confirm', { body: { token, new_password: 'a reset horse staple 9' } })).status, 400)
})

void test('a ban ends every session on every instance and refuses new sign-ins', async () => {
  const user = await newUser()
  const { json: tokens } = await user.login(0)
  assert.equal((await call(0, 'POST', `/admin/users/${user.userId}/ban`, { admin: true, body: {} })).status, 200)
  assert.equal((await call(1, 'POST', '/auth/refresh', { body: { refresh_token: tokens.refresh_token } })).status, 401)
  assert.equal((await call(2, 'GET', '/auth/sessions', { token: tokens.access_token })).status, 401)
  assert.equal((await user.login(2)).status, 403)
})
