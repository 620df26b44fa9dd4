// What `npm test` needs besides node_modules, checked before any test starts:
// the programs some suites launch (Chromium, NGINX, Caddy, redis-server, openssl) and
// the shared Redis and PostgreSQL (a real connection to the test database, as
// its user). A missing program is installed from Debian when we run as root
// with apt-get (what CI and a fresh container are); otherwise, and for a
// service that is down or a test database that is missing, the run stops at
// once with the exact command to run, instead of a suite hanging on a launch
// or a connection that cannot work.
import { spawnSync } from 'node:child_process'
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs'
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

/** The shared Redis every full run talks to, with the command that starts it. */
export function redisService(env = process.env) {
  const redis = new URL(env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379')
  return {
    name: 'Redis',
    host: redis.hostname,
    port: Number(redis.port || 6379),
    start: `redis-server --daemonize yes --bind 127.0.0.1 --port ${redis.port || 6379} --save '' --appendonly no (or set TESSERA_TEST_REDIS_URL)`,
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]'])

/**
 * The Debian PostgreSQL clusters of this machine (`/etc/postgresql/<version>/<name>`)
 * with the port each is configured for, newest version first.
 * @returns {{ version: string, name: string, port: number }[]}
 */
export function debianClusters(root = '/etc/postgresql') {
  const clusters = []
  let versions = []
  try {
    versions = readdirSync(root)
  } catch {
    return []
  }
  for (const version of versions) {
    let names = []
    try {
      names = readdirSync(join(root, version))
    } catch {
      continue
    }
    for (const name of names) {
      try {
        const conf = readFileSync(join(root, version, name, 'postgresql.conf'), 'utf8')
        clusters.push({ version, name, port: Number(/^\s*port\s*=\s*(\d+)/m.exec(conf)?.[1] ?? 5432) })
      } catch {
        // not a cluster directory
      }
    }
  }
  return clusters.sort((a, b) => Number.parseFloat(b.version) - Number.parseFloat(a.version))
}

/** `url` without its password (what we print: the command must not carry a secret), pointing at `database`. */
function printableUrl(url, database) {
  const copy = new URL(url.href)
  copy.password = ''
  copy.pathname = `/${database}`
  return copy.href
}

/**
 * What to tell the user when the test database cannot be used, from the
 * connection error: one exact command for each case it can name. Pure, so
 * each case is tested without breaking a real server.
 * @param {URL} url the test database URL
 * @param {{ code?: string, message?: string }} err what the connection attempt threw
 * @param {{ root: boolean, hasApt: boolean, clusters: { version: string, name: string, port: number }[] }} machine
 */
export function postgresAdvice(url, err, { root, hasApt, clusters }) {
  const sudo = root ? '' : 'sudo '
  const host = url.hostname
  const port = Number(url.port || 5432)
  const user = decodeURIComponent(url.username || 'postgres')
  const database = decodeURIComponent(url.pathname.slice(1) || user)
  const where = `${host}:${port}`
  const ident = (name) => `"${name.replace(/"/g, '""')}"`
  switch (err.code) {
    case '3D000':
      return `the PostgreSQL test database "${database}" does not exist on ${where}; run: psql '${printableUrl(url, 'postgres')}' -c '${`CREATE DATABASE ${ident(database)}`.replace(/'/g, "'\\''")}'`
    case '28000':
    case '28P01':
      return `PostgreSQL on ${where} refused user "${user}" (${err.message}); give that user access (trust or a password in pg_hba.conf), or run with a URL that works: TESSERA_TEST_DATABASE_URL=postgres://<user>:<password>@${where}/${database} npm test`
  }
  const down = `PostgreSQL does not answer on ${where} (${err.code ?? err.message})`
  if (!LOOPBACK.has(host)) return `${down}; start it there, or run with another: TESSERA_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm test`
  const cluster = clusters.find((c) => c.port === port)
  if (cluster) return `${down}; run: ${sudo}pg_ctlcluster --skip-systemctl-redirect ${cluster.version} ${cluster.name} start`
  if (clusters.length > 0) {
    const other = clusters[0]
    return `${down}, and no PostgreSQL cluster of this machine is set to that port (${clusters.map((c) => `${c.version}/${c.name} on ${c.port}`).join(', ')}); run with one of them: TESSERA_TEST_DATABASE_URL=postgres://${encodeURIComponent(user)}@127.0.0.1:${other.port}/${encodeURIComponent(database)} npm test`
  }
  if (hasApt) return `${down}, and PostgreSQL is not installed; run: ${aptCommand(['postgresql'], { root })} && ${sudo}pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start`
  return `${down}, and PostgreSQL is not installed; install PostgreSQL, start it on port ${port}, and run again`
}

/**
 * Connects to the test database as the tests will (its user, its database)
 * and runs one query, within `timeoutMs`. Resolves null when that works, else
 * the error (with PostgreSQL's SQLSTATE `code` when the server answered).
 */
export async function tryPostgres(url, timeoutMs = 3000) {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return null
  } catch (err) {
    return /** @type {{ code?: string, message?: string }} */ (err)
  } finally {
    // A client that never connected has nothing to end; a connected one gets the same bound.
    await Promise.race([client.end().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())])
  }
}

/** Why the shared services cannot be used (Redis: does it answer; PostgreSQL: the test database itself), or null. */
export async function servicesProblem(env = process.env) {
  const problems = []
  const redis = redisService(env)
  if (!(await answers(redis.host, redis.port))) problems.push(`Redis does not answer on ${redis.host}:${redis.port}; start it: ${redis.start}`)
  const url = new URL(env.TESSERA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test')
  const err = await tryPostgres(url.href)
  if (err) problems.push(postgresAdvice(url, err, { root: process.getuid?.() === 0, hasApt: isExecutable('apt-get', env), clusters: debianClusters() }))
  return problems.length ? problems.join('\n') : null
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
  return servicesProblem(env)
}
