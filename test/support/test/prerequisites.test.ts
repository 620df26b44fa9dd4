// `npm test` on a fresh machine: the programs the suites launch are found or
// installed before any test starts, or the run stops at once with the exact
// command (scripts/prerequisites.mjs, called by scripts/run-tests.mjs).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { missingPrograms, planFor } from '../../../scripts/prerequisites.mjs'

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
