// The real thing: `tessera serve` as a child process on a real socket, against
// real Redis and PostgreSQL, stopped with SIGTERM.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { deleteKeys, freePort, SHARED_REDIS_URL, uniquePrefix } from '../../../../../test/support/redis.js'
import { DATABASE_URL, PASSWORD, testSchema, uniqueEmail } from './helpers.js'
import { serve } from './serve-child.js'

void test('bad configuration prints a clear message and exits 1', async () => {
  const server = serve({ PORT: 'eighty' })
  assert.equal(await server.exited, 1)
  assert.match(server.output().stderr, /tessera: configuration error: PORT must be an integer/)
})

void test('serves over a real socket on Redis and PostgreSQL, names them in the startup line, and drains on SIGTERM', async (t) => {
  const schema = await testSchema()
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-serve-'))
  const prefix = uniquePrefix('serve')
  const server = serve({
    PORT: '0',
    REDIS_URL: SHARED_REDIS_URL,
    TESSERA_REDIS_PREFIX: prefix,
    DATABASE_URL,
    TESSERA_DATABASE_SCHEMA: schema.schema,
    TESSERA_DATA_DIR: dataDir,
  })
  t.after(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL')
    await server.exited
    await deleteKeys(SHARED_REDIS_URL, prefix)
    await schema.drop()
    rmSync(dataDir, { recursive: true, force: true })
  })
  const url = await server.listening
  // The start-up line names where it connects (address, database number, key prefix, schema), never a password.
  const redis = new URL(SHARED_REDIS_URL)
  const database = new URL(DATABASE_URL)
  assert.ok(
    server.output().stdout.includes(
      `session store: redis ${redis.hostname}:${redis.port || 6379} db ${Number(redis.pathname.slice(1) || 0)} key prefix ${prefix}, ` +
        `user database: postgresql ${database.hostname}:${database.port || 5432}${database.pathname} schema ${schema.schema}, mailer: dev outbox`,
    ),
    server.output().stdout,
  )
  // Each slow step is announced on stderr before it runs, with the time since the process started.
  const step = (text: string) => new RegExp(`^tessera: \\[\\d+\\.\\d s\\] ${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\.\\.\\.$`, 'm')
  const { stderr } = server.output()
  for (const line of [
    'starting',
    `connecting to redis ${redis.hostname}:${redis.port || 6379} db ${Number(redis.pathname.slice(1) || 0)}`,
    `connecting to postgresql ${database.hostname}:${database.port || 5432}${database.pathname} schema ${schema.schema} and running migrations`,
    'starting the HTTP server',
  ]) {
    assert.match(stderr, step(line))
  }
  const email = uniqueEmail()
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  assert.equal((await post('/auth/register', { email, password: PASSWORD })).status, 202)
  const login = await post('/auth/login', { email, password: PASSWORD })
  assert.equal(login.status, 200)
  const tokens = (await login.json()) as { access_token: string }
  const me = await fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
  assert.equal(me.status, 200)
  assert.equal(((await me.json()) as { email: string }).email, email)
  assert.doesNotMatch(server.output().stdout, new RegExp(tokens.access_token.slice(0, 40).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))

  server.child.kill('SIGTERM')
  assert.equal(await server.exited, 0)
  assert.match(server.output().stdout, /SIGTERM received, shutting down/)
})

void test('an unreachable Redis at start names its address and ends the start within seconds', async (t) => {
  const port = await freePort()
  const server = serve({ PORT: '0', REDIS_URL: `redis://app:hunter2hunter2@127.0.0.1:${port}/2` })
  // Timed from the progress line, not from the spawn: loading the modules on a busy machine is not the connect.
  const connecting = await server.sawLine(new RegExp(`^tessera: \\[\\d+\\.\\d s\\] connecting to redis 127\\.0\\.0\\.1:${port} db 2 \\.\\.\\.$`, 'm'))
  assert.equal(await server.exited, 1)
  const waitedMs = Date.now() - connecting
  t.diagnostic(`exit ${waitedMs} ms after the connecting line`)
  const { stderr } = server.output()
  assert.match(stderr, new RegExp(`^tessera: could not start: could not connect to redis 127\\.0\\.0\\.1:${port} db 2: `, 'm'))
  assert.doesNotMatch(stderr + server.output().stdout, /hunter2/, 'never the password')
  // The start gives Redis 3 s; 10 s leaves a busy machine room, while the old ~13 s (node-redis retrying) fails.
  assert.ok(waitedMs < 10_000, `exit ${waitedMs} ms after the connecting line`)
})

void test('with no configuration it runs embedded, says so, and keeps users and keys across a restart', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-embedded-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const email = uniqueEmail()
  const post = (url: string, path: string, body: unknown) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const kids: string[] = []
  for (const round of [1, 2]) {
    const server = serve({ PORT: '0', TESSERA_DATA_DIR: dataDir })
    try {
      const url = await server.listening
      assert.match(server.output().stdout, /session store: memory \(embedded, single process, kept in .*sessions\), user database: embedded .*, mailer: dev outbox/)
      // Slow start-up steps are announced before they run (on stderr, before the listening line), each with the time since the process started.
      const { stderr } = server.output()
      assert.match(stderr, /^tessera: \[\d+\.\d s\] starting \.\.\.$/m)
      if (round === 1) {
        assert.match(stderr, /^tessera: \[\d+\.\d s\] first start: generating signing keys into .*signing-keys\.json \.\.\.$/m)
        assert.match(stderr, /^tessera: \[\d+\.\d s\] first start: creating the embedded user database in .*users \(PGlite initdb/m)
      } else {
        assert.match(stderr, /^tessera: \[\d+\.\d s\] opening the embedded user database in .*users \.\.\.$/m)
        assert.doesNotMatch(stderr, /first start/)
      }
      if (round === 1) assert.equal((await post(url, '/auth/register', { email, password: PASSWORD })).status, 202)
      assert.equal((await post(url, '/auth/login', { email, password: PASSWORD })).status, 200, `login in round ${round}`)
      const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }
      kids.push(jwks.keys[0]!.kid)
    } finally {
      server.child.kill('SIGTERM')
      assert.equal(await server.exited, 0)
    }
  }
  assert.equal(kids[0], kids[1], 'the signing key survives the restart')
})

// A process manager (systemd, a container runtime, a supervisor) stops `npm start` by sending SIGTERM to npm
// alone. npm passes it to the shell that runs the script; the server has to get it too, or it keeps the port
// and the data dir as an orphan and the next start fails.
void test('`npm start` stopped with SIGTERM to npm alone stops the server, gracefully', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-npm-start-'))
  const server = serve({ PORT: '0', TESSERA_DATA_DIR: dataDir, TESSERA_HASHING_PROCESSES: '1' }, { via: 'npm start' })
  const serverPid = () => Number(/"pid":(\d+)/.exec(server.output().stdout)?.[1])
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  t.after(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL')
    await server.exited
    // On failure the server outlives npm: it is nobody's child, so stop it by its PID.
    if (serverPid() && alive(serverPid())) process.kill(serverPid(), 'SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  })
  await server.listening
  const pid = serverPid()
  assert.ok(pid > 0 && pid !== server.child.pid, 'the server runs in a process of its own, under npm')
  server.child.kill('SIGTERM')
  await server.sawLine(/SIGTERM received, shutting down/)
  assert.equal(await server.exited, 0)
  // npm waits for the script's process, so by now the server has finished its shutdown and exited.
  assert.equal(alive(pid), false, 'no server left running after npm exited')
})
