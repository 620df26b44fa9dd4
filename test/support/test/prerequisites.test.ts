// `npm test` on a fresh machine: the programs the suites launch are found or
// installed before any test starts, and the shared services answer (PostgreSQL:
// the test database itself, as its user), or the run stops at once with the
// exact command (scripts/prerequisites.mjs, called by scripts/run-tests.mjs).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { missingPrograms, planFor, postgresAdvice, servicesProblem, tryPostgres } from '../../../scripts/prerequisites.mjs'
import { SHARED_DATABASE_URL } from '../postgres.js'
import { freePort } from '../redis.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const nothingInstalled = () => false

test('a browser test needs Chromium, a gateway test NGINX or Caddy (and Python for its echo service), every run redis-server', () => {
  const names = (files: string[]) => missingPrograms(files, { env: {}, executable: nothingInstalled }).map((p) => p.name)
  assert.deepEqual(names(['test/web/account.test.ts']), ['Chromium', 'redis-server'])
  assert.deepEqual(names(['packages/gateway/src/test/nginx.test.ts']), ['NGINX', 'Python 3', 'redis-server'])
  assert.deepEqual(names(['packages/gateway/src/test/caddy.test.ts']), ['Caddy', 'Python 3', 'redis-server'], 'the Caddy test runs the gateway and a Python service behind Caddy, no NGINX')
  assert.deepEqual(names(['packages/gateway/src/test/caddy.test.ts', 'packages/gateway/src/test/forward-auth.test.ts']), ['NGINX', 'Caddy', 'Python 3', 'redis-server'])
  assert.deepEqual(names(['test/fleet/fleet.test.ts']), ['NGINX', 'Python 3', 'redis-server'], 'the fleet test runs the gateway and a Python service behind NGINX')
  assert.deepEqual(names(['bench/test/smoke-1.smoke.test.ts']), ['NGINX', 'redis-server'], 'the gateway benchmark runs NGINX')
  assert.deepEqual(names(['packages/core/src/test/tokens.test.ts']), ['redis-server'])
  assert.deepEqual(missingPrograms(['test/web/account.test.ts'], { env: {}, executable: () => true }), [])
})

test('as root with apt-get the missing Debian packages are installed; otherwise the run stops with the exact command', () => {
  const missing = missingPrograms(['test/web/a.test.ts', 'packages/gateway/test/g.test.ts'], { env: {}, executable: (c) => c === 'redis-server' })
  assert.deepEqual(planFor(missing, { root: true, hasApt: true }), {
    action: 'install',
    command: 'apt-get update && env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium nginx',
  })
  const notRoot = planFor(missing, { root: false, hasApt: true })
  assert.equal(notRoot.action, 'fail')
  assert.match(notRoot.action === 'fail' ? notRoot.message : '', /run: sudo apt-get update && sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium nginx$/)
  const noApt = planFor(missing, { root: true, hasApt: false })
  assert.match(noApt.action === 'fail' ? noApt.message : '', /needed by the tests: Chromium, NGINX; install .*Debian packages: chromium nginx/)
  assert.deepEqual(planFor([], { root: false, hasApt: false }), { action: 'none' })
})

test('a Chromium chosen with TESSERA_CHROMIUM that is not there stops `npm test` at once, before any test, naming the variable', () => {
  const started = Date.now()
  const run = spawnSync(process.execPath, ['scripts/run-tests.mjs', 'test/web/account.test.ts'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, TESSERA_CHROMIUM: '/nonexistent/chromium' },
  })
  assert.equal(run.signal, null, 'exits by itself')
  assert.equal(run.status, 1, run.stderr)
  assert.match(run.stderr, /^tessera tests: TESSERA_CHROMIUM=\/nonexistent\/chromium is not an executable Chromium/m)
  assert.doesNotMatch(run.stdout, /# Subtest/, 'no test started')
  assert.ok(Date.now() - started < 30_000)
})

test('PostgreSQL down: the pre-flight stops at once, before any test, with one exact command', async () => {
  const port = await freePort()
  const env = { ...process.env, TESSERA_TEST_DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/test` }
  const started = Date.now()
  // A smoke run checks the shared services as a full run does, and needs only NGINX and redis-server.
  const run = spawnSync(process.execPath, ['scripts/run-tests.mjs', '--smoke', 'bench/test/smoke-1.smoke.test.ts'], { cwd: root, encoding: 'utf8', timeout: 60_000, env })
  assert.equal(run.signal, null, 'exits by itself')
  assert.equal(run.status, 1, run.stderr)
  assert.match(run.stderr, new RegExp(`^tessera tests: PostgreSQL does not answer on 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\).*; run(?: with one of them)?: \\S`, 'm'))
  assert.doesNotMatch(run.stdout, /# Subtest/, 'no test started')
  assert.ok(Date.now() - started < 30_000)
})

test('each way PostgreSQL can be unusable names one command: start its cluster, install it, create the database, or another URL', () => {
  const url = new URL('postgres://postgres@127.0.0.1:5433/test')
  const refused = { code: 'ECONNREFUSED' }
  const clusters = [{ version: '15', name: 'main', port: 5432 }, { version: '15', name: 'tests', port: 5433 }]
  assert.match(postgresAdvice(url, refused, { root: true, hasApt: true, clusters }), /; run: pg_ctlcluster --skip-systemctl-redirect 15 tests start$/)
  assert.match(postgresAdvice(url, refused, { root: false, hasApt: true, clusters }), /; run: sudo pg_ctlcluster --skip-systemctl-redirect 15 tests start$/)
  assert.match(postgresAdvice(url, refused, { root: true, hasApt: true, clusters: [] }), /not installed; run: apt-get update && env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql && pg_ctlcluster --skip-systemctl-redirect "\$\(ls \/etc\/postgresql \| sort -V \| tail -n1\)" main start$/)
  assert.match(postgresAdvice(url, refused, { root: true, hasApt: true, clusters: clusters.slice(0, 1) }), /run with one of them: TESSERA_TEST_DATABASE_URL=postgres:\/\/postgres@127\.0\.0\.1:5432\/test npm test$/)
  assert.match(postgresAdvice(new URL('postgres://u:secret@db.example:5432/test'), { code: '28P01', message: 'password authentication failed for user "u"' }, { root: true, hasApt: true, clusters }), /refused user "u"/)
  const missing = postgresAdvice(new URL("postgres://u:secret@127.0.0.1:5432/it's"), { code: '3D000' }, { root: true, hasApt: true, clusters })
  assert.equal(missing, `the PostgreSQL test database "it's" does not exist on 127.0.0.1:5432; run: psql 'postgres://u@127.0.0.1:5432/postgres' -c 'CREATE DATABASE "it'\\''s"'`)
  for (const advice of [missing, postgresAdvice(new URL('postgres://u:secret@db.example/test'), refused, { root: true, hasApt: true, clusters })]) assert.doesNotMatch(advice, /secret/, 'no password printed')
})

test('a missing test database is found by connecting as the tests do, and the printed command creates it', async () => {
  const shared = new URL(SHARED_DATABASE_URL)
  const database = `tessera_prereq_${randomBytes(4).toString('hex')}`
  const url = new URL(shared.href)
  url.pathname = `/${database}`
  const problem = await servicesProblem({ ...process.env, TESSERA_TEST_DATABASE_URL: url.href })
  assert.ok(problem, 'a missing database is a problem')
  const command = /; run: (.*)$/.exec(problem)?.[1] ?? ''
  assert.ok(command.startsWith('psql '), problem)
  const created = spawnSync('sh', ['-c', command], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, PGPASSWORD: decodeURIComponent(shared.password) } })
  try {
    assert.equal(created.status, 0, created.stderr)
    assert.equal(await tryPostgres(url.href), null)
  } finally {
    const admin = new pg.Client({ connectionString: shared.href })
    await admin.connect()
    await admin.query(`DROP DATABASE IF EXISTS ${database}`)
    await admin.end()
  }
})
