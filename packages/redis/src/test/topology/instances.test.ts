// Three `tessera serve` processes on one Redis (and one user database): a
// session started on one instance is refreshed on another and revoked on the
// third, and 50 concurrent refreshes spread over the three end on one lineage.
// They log in to Redis as the minimal ACL user of docs/operations.md (plus the
// rate limiter's commands), on a private redis-server.
import { strict as assert } from 'node:assert'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import pg from 'pg'
import { SigningKeySet } from '@tessera/core'
import { owned } from '../../../../../test/support/owned-process.js'
import { freePort, startPrivateRedis, waitFor, type PrivateRedis } from '../../../../../test/support/redis.js'
import { TESSERA_ACL_RULES } from '../../../../../test/support/redis-topology.js'
import { SHARED_DATABASE_URL } from '../../../../../test/support/postgres.js'

const DATABASE_URL = SHARED_DATABASE_URL
const ROOT = new URL('../../../../../', import.meta.url)

interface Instance {
  url: string
  child: ChildProcess
  stop(): Promise<void>
}

let redis: PrivateRedis | undefined
const schema = `topo_${randomUUID().replace(/-/g, '').slice(0, 12)}`
const dataDir = mkdtempSync(join(tmpdir(), 'tessera-instances-'))
const instances: Instance[] = []

async function startInstance(n: number, env: Record<string, string>): Promise<Instance> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--conditions=tessera-source', '--import', 'tsx', 'packages/server/src/cli/main.ts', 'serve'], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', TESSERA_DATA_DIR: join(dataDir, String(n)) },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const instance: Instance = { url: `http://127.0.0.1:${port}`, child, stop: owned(child).stop }
  instances.push(instance)
  try {
    await waitFor(async () => (await fetch(`${instance.url}/readyz`)).status === 200, 60_000, 100)
  } catch (err) {
    throw new Error(`instance ${n} did not become ready: ${stderr.slice(0, 500)}`, { cause: err })
  }
  return instance
}

async function call(instance: Instance, method: string, path: string, body?: unknown, accessToken?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${instance.url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await res.text()
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }
}

before(async () => {
  // The server's login rate limiter adds INCR, PEXPIRE and PTTL (in its own script), and its lockout GET, to the library's list.
  redis = await startPrivateRedis(['--user', 'tessera', 'on', '>instances-secret', ...TESSERA_ACL_RULES, '+incr', '+pexpire', '+pttl', '+get'])
  const db = new pg.Client({ connectionString: DATABASE_URL })
  await db.connect()
  await db.query(`CREATE SCHEMA ${schema}`)
  await db.end()
  const keys = await SigningKeySet.generate()
  const env = {
    REDIS_URL: `redis://tessera:instances-secret@127.0.0.1:${redis.port}`,
    TESSERA_REDIS_PREFIX: 'tessera:',
    DATABASE_URL: `${DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    TESSERA_TOKEN_KEY: randomUUID() + randomUUID(),
    TESSERA_SIGNING_KEYS: JSON.stringify(keys.toJSON()),
    TESSERA_ISSUER: 'https://auth.test',
    LOG_LEVEL: 'silent',
  }
  // One at a time: three concurrent starts would race the user-database migrations for no gain here.
  for (let n = 0; n < 3; n++) await startInstance(n, env)
})

after(async () => {
  await Promise.allSettled(instances.map((i) => i.stop()))
  rmSync(dataDir, { recursive: true, force: true })
  await redis?.stop()
  const db = new pg.Client({ connectionString: DATABASE_URL })
  await db.connect()
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await db.end()
})

async function signUp(): Promise<{ email: string; password: string }> {
  const account = { email: `u-${randomUUID().slice(0, 8)}@example.com`, password: 'correct horse battery staple 42' }
  assert.equal((await call(instances[0]!, 'POST', '/auth/register', account)).status, 202)
  return account
}

void test('a session started on one instance is refreshed on another and revoked on the third', async () => {
  const [a, b, c] = instances as [Instance, Instance, Instance]
  const account = await signUp()
  const login = await call(b, 'POST', '/auth/login', account)
  assert.equal(login.status, 200)
  assert.equal((await call(c, 'GET', '/auth/me', undefined, login.body.access_token as string)).status, 200)

  const refreshed = await call(c, 'POST', '/auth/refresh', { refresh_token: login.body.refresh_token })
  assert.equal(refreshed.status, 200)
  assert.equal(refreshed.body.session_id, login.body.session_id)
  const access = refreshed.body.access_token as string
  for (const instance of instances) assert.equal((await call(instance, 'GET', '/auth/me', undefined, access)).status, 200)

  assert.equal((await call(a, 'POST', '/auth/logout', undefined, access)).status, 204)
  for (const instance of instances) {
    const me = await call(instance, 'GET', '/auth/me', undefined, access)
    assert.equal(me.status, 401)
    assert.equal(me.body.code, 'ERR_SESSION_REVOKED')
  }
  const again = await call(b, 'POST', '/auth/refresh', { refresh_token: refreshed.body.refresh_token })
  assert.equal(again.status, 401)
})

void test('50 concurrent refreshes of one token spread over three instances end on one lineage', async () => {
  const account = await signUp()
  const login = await call(instances[1]!, 'POST', '/auth/login', account)
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => call(instances[i % 3]!, 'POST', '/auth/refresh', { refresh_token: login.body.refresh_token })))
  assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]))
  assert.equal(new Set(results.map((r) => r.body.refresh_token)).size, 1)
  assert.equal(new Set(results.map((r) => r.body.session_id)).size, 1)
  const next = await call(instances[2]!, 'POST', '/auth/refresh', { refresh_token: results[0]!.body.refresh_token })
  assert.equal(next.status, 200)
  assert.equal((await call(instances[0]!, 'GET', '/auth/me', undefined, next.body.access_token as string)).status, 200)
  // Revoking everything on one instance ends the session everywhere.
  assert.equal((await call(instances[0]!, 'POST', '/auth/logout-all', {}, next.body.access_token as string)).status, 204)
  const me = await call(instances[1]!, 'GET', '/auth/me', undefined, next.body.access_token as string)
  assert.equal(me.status, 401)
})
