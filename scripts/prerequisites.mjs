// What `npm test` needs besides node_modules, checked before any test starts:
// the programs some suites launch (Chromium, NGINX, Caddy, redis-server, openssl) and
// the shared Redis and PostgreSQL. A missing program is installed from Debian
// when we run as root with apt-get (what CI and a fresh container are);
// otherwise, and for a service that is down, the run stops at once with the
// exact command to run, instead of a suite hanging on a launch that cannot work.
import { spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { connect } from 'node:net'
import { delimiter, join } from 'node:path'

/**
 * @typedef {object} Program
 * @property {string} name         what the user knows it as
 * @property {string} command      absolute path, or a name looked up on PATH
 * @property {string} debianPackage
 * @property {RegExp} neededBy     test files (paths with `/`) that launch it
 * @property {string} [pathVariable] environment variable that chose `command` (then we never install)
 */

/** @returns {Program[]} */
export function programs(env = process.env) {
  return [
    {
      name: 'Chromium',
      command: env.TESSERA_CHROMIUM ?? '/usr/bin/chromium',
      debianPackage: 'chromium',
      neededBy: /(^|\/)(web-test|test\/web)\//,
      ...(env.TESSERA_CHROMIUM ? { pathVariable: 'TESSERA_CHROMIUM' } : {}),
    },
    // The gateway tests (but the Caddy one), the fleet test and the gateway benchmark's smoke run (bench/test) start NGINX.
    { name: 'NGINX', command: 'nginx', debianPackage: 'nginx', neededBy: /^(?!.*caddy\.test\.ts$).*gateway|(^|\/)test\/fleet\/|(^|\/)bench\/test\// },
    // The gateway's Caddy test runs the documented Caddyfile. The test starts its own Caddy on free loopback
    // ports with the admin endpoint off, so it needs no system service (Debian's package may start one on :80 and :2019).
    { name: 'Caddy', command: 'caddy', debianPackage: 'caddy', neededBy: /(^|\/)packages\/gateway\/.*caddy/ },
    // The edge rigs (gateway NGINX and Caddy tests, fleet test) put a Python echo service behind the proxy: a service not written in Node.
    // The revocation-log doc test runs a follower written in Python from the doc alone.
    { name: 'Python 3', command: 'python3', debianPackage: 'python3', neededBy: /(^|\/)packages\/gateway\/.*(nginx|caddy)|(^|\/)test\/fleet\/|(^|\/)test\/docs\/revocation-log-follower/ },
    { name: 'redis-server', command: 'redis-server', debianPackage: 'redis-server', neededBy: /./ },
    { name: 'openssl', command: 'openssl', debianPackage: 'openssl', neededBy: /(^|\/)topology\// },
  ]
}

/** True when `command` (a path, or a name on PATH; sbin included, where Debian puts nginx) can be executed. */
export function isExecutable(command, env = process.env) {
  const candidates = command.includes('/')
    ? [command]
    : [...(env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean).map((dir) => join(dir, command))
  return candidates.some((path) => {
    try {
      accessSync(path, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** The programs that the given test files launch and that are not there. */
export function missingPrograms(files, { env = process.env, executable = isExecutable } = {}) {
  const paths = files.map((f) => f.split('\\').join('/'))
  return programs(env).filter((p) => paths.some((f) => p.neededBy.test(f)) && !executable(p.command, env))
}

/** The command that installs `packages` on Debian (what we run as root, or print otherwise). */
export function aptCommand(packages, { root }) {
  const sudo = root ? '' : 'sudo '
  return `${sudo}apt-get update && ${sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages.join(' ')}`
}

/**
 * What to do about the missing programs: nothing, install them (root with
 * apt-get), or stop with a message that holds the exact command.
 * @returns {{ action: 'none' } | { action: 'install', command: string } | { action: 'fail', message: string }}
 */
export function planFor(missing, { root, hasApt }) {
  if (missing.length === 0) return { action: 'none' }
  const chosen = missing.filter((p) => p.pathVariable)
  if (chosen.length > 0) {
    const p = /** @type {Program} */ (chosen[0])
    return { action: 'fail', message: `${p.pathVariable}=${p.command} is not an executable ${p.name}: point it at one, or unset it to use /usr/bin/chromium` }
  }
  const names = missing.map((p) => p.name).join(', ')
  const packages = missing.map((p) => p.debianPackage)
  if (root && hasApt) return { action: 'install', command: aptCommand(packages, { root }) }
  const how = hasApt ? `run: ${aptCommand(packages, { root })}` : `install ${names} (Debian packages: ${packages.join(' ')}) and run again`
  return { action: 'fail', message: `not installed but needed by the tests: ${names}; ${how}` }
}

/** Resolves true when something accepts a TCP connection at host:port within `timeoutMs`. */
export function answers(host, port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/** The shared services every full run talks to, with the command that starts each one. */
export function services(env = process.env) {
  const redis = new URL(env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379')
  const postgres = new URL(env.TESSERA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test')
  return [
    {
      name: 'Redis',
      host: redis.hostname,
      port: Number(redis.port || 6379),
      start: `redis-server --daemonize yes --bind 127.0.0.1 --port ${redis.port || 6379} --save '' --appendonly no (or set TESSERA_TEST_REDIS_URL)`,
    },
    {
      name: 'PostgreSQL',
      host: postgres.hostname,
      port: Number(postgres.port || 5432),
      start: 'pg_ctlcluster <version> main start, with trust auth for postgres and a database "test" (or set TESSERA_TEST_DATABASE_URL); bash .ci/run does both',
    },
  ]
}

/**
 * Makes sure the given test files can run: installs missing programs when it
 * may, and (for a full run) checks the shared services. Returns an error
 * message, or null when ready.
 */
export async function ensurePrerequisites(files, env = process.env, { services: checkServices = true } = {}) {
  const missing = missingPrograms(files, { env })
  const plan = planFor(missing, { root: process.getuid?.() === 0, hasApt: isExecutable('apt-get', env) })
  if (plan.action === 'fail') return plan.message
  if (plan.action === 'install') {
    console.error(`== installing what the tests need: ${missing.map((p) => p.debianPackage).join(' ')}`)
    const result = spawnSync('sh', ['-c', plan.command], { stdio: 'inherit' })
    const still = missingPrograms(files, { env })
    if (result.status !== 0 || still.length > 0) return `installing ${missing.map((p) => p.debianPackage).join(' ')} failed; run: ${plan.command}`
  }
  if (!checkServices) return null
  const down = []
  for (const service of services(env)) {
    if (!(await answers(service.host, service.port))) down.push(`${service.name} does not answer on ${service.host}:${service.port}; start it: ${service.start}`)
  }
  return down.length ? down.join('\n') : null
}
