#!/usr/bin/env node
// Proof that the published packages stand on their own (run by .ci/run; `npm run test:pack`):
// 1. build every package and `npm pack` it; each tarball must carry its README's links
//    (docs/, SECURITY.md, LICENSE), no test code, and source maps only for shipped sources, and its
//    package.json must declare exactly the packages its published code imports (dependencies.mjs);
// 2. install the core, redis and verifier tarballs into a fresh temporary project (no
//    workspace links) and fail if that tree - what a service that only verifies tokens
//    installs - holds a native module, a database driver or a mailer;
// 3. compile a small consumer with `strict` against the published types and run it against
//    Redis: sign in, verify, refresh, revoke, verify refused; as an ES module and from
//    CommonJS through require(esm) (Node.js >= 20.19);
// 4. install all five tarballs into a second fresh project and run what it installs: the
//    `tessera` and `tessera-gateway` commands, and `tessera serve` on its embedded defaults
//    (memory store, embedded user database, the account page from the package) answering
//    its readiness route and /account.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomUUID } from 'node:crypto'
import { dependencyProblems } from './pack-check/dependencies.mjs'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const PACKAGES = ['core', 'redis', 'verifier', 'gateway', 'server']
/** A service that only verifies tokens installs these and nothing that needs a compiler, a database or SMTP. */
const VERIFIER_ONLY = ['core', 'redis', 'verifier']
const FORBIDDEN = /^(pg|pg-native|@electric-sql\/pglite|mysql2?|sqlite3|better-sqlite3|mongodb|nodemailer|argon2|bcrypt|node-gyp|node-gyp-build|prebuild-install|fastify|express|@fastify\/.*)$/
const REDIS_URL = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const started = Date.now()
const step = (what) => console.log(`== pack-check ${((Date.now() - started) / 1000).toFixed(1)}s: ${what}`)
const run = (cmd, args, options = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...options })
/** A check that failed: thrown, not process.exit(), so the cleanup below still runs (temp project, builds made here). */
class PackCheckFailure extends Error {}
const fail = (message) => {
  throw new PackCheckFailure(message)
}

/**
 * What the full install puts on the PATH, run from that install with a clean environment (no
 * NODE_OPTIONS, so nothing loads from a checkout's sources): `tessera --help` and `--version`,
 * `tessera-gateway --help`, and `tessera serve` on embedded defaults, stopped by its PID.
 */
async function checkInstalledCommands(dir) {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME }
  const { version } = JSON.parse(readFileSync(join(ROOT, 'packages', 'server', 'package.json'), 'utf8'))
  // `--`: without it npm takes --version and --help as its own options.
  const npx = (...args) => run('npx', ['--no', '--', ...args], { cwd: dir, env, timeout: 60_000 })
  const printed = npx('tessera', '--version').trim()
  if (printed !== version) fail(`npx tessera --version printed ${JSON.stringify(printed)}, not ${version}`)
  if (!/\bserve\b/.test(npx('tessera', '--help'))) fail('npx tessera --help does not list serve')
  if (!/Usage: tessera-gateway/.test(npx('tessera-gateway', '--help'))) fail('npx tessera-gateway --help printed no usage')
  console.log(`   tessera ${printed}: --help, --version and tessera-gateway --help answer`)

  // The bin file itself (not npx), so the PID is the server's own: it runs the build in-process.
  const server = spawn(process.execPath, [join(dir, 'node_modules', '.bin', 'tessera'), 'serve'], {
    cwd: dir,
    env: { ...env, PORT: '0', TESSERA_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  server.stdout.on('data', (chunk) => (output += chunk))
  server.stderr.on('data', (chunk) => (output += chunk))
  const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve(signal ?? code)))
  /** `promise`, or a rejection after `ms`; the timer does not outlive it. */
  const within = (ms, what, promise) => {
    let timer
    const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms / 1000} s`)), ms)))
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
  }
  let problem = null
  try {
    const listening = new Promise((resolve, reject) => {
      server.stdout.on('data', () => {
        const match = /tessera listening on (http:\/\/[^;]+);/.exec(output)
        if (match) resolve(match[1])
      })
      void exited.then((how) => reject(new Error(`exited (${how}) before listening`)))
    })
    const url = await within(90_000, 'tessera serve listening', listening)
    const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(30_000) })
    const body = await ready.json()
    if (ready.status !== 200 || body.status !== 'ready') throw new Error(`${url}/readyz answered ${ready.status} ${JSON.stringify(body)}`)
    // The account page as docs/server.md routes it: /account, and its files at /account/<file>.
    const page = await fetch(`${url}/account`, { signal: AbortSignal.timeout(30_000) })
    const html = await page.text()
    if (page.status !== 200 || !/<html/i.test(html)) throw new Error(`${url}/account answered ${page.status} ${page.headers.get('content-type')}`)
    const script = await fetch(`${url}/account/main.js`, { signal: AbortSignal.timeout(30_000) })
    await script.arrayBuffer()
    if (script.status !== 200 || !script.headers.get('content-type')?.startsWith('text/javascript')) throw new Error(`${url}/account/main.js answered ${script.status} ${script.headers.get('content-type')}`)
    console.log(`   tessera serve: ${url}/readyz ready, /account ${html.length} bytes of HTML, /account/main.js served`)
  } catch (err) {
    problem = err
  }
  // Stopped by its PID, whatever happened above: a failed check must not leave a server running.
  if (server.exitCode === null && server.signalCode === null) process.kill(server.pid, 'SIGTERM')
  try {
    await within(30_000, 'tessera serve stopping on SIGTERM', exited)
  } catch (err) {
    process.kill(server.pid, 'SIGKILL')
    problem ??= err
  }
  if (problem) fail(`tessera serve from the install: ${problem.message}\n${output}`)
}

const work = mkdtempSync(join(tmpdir(), 'tessera-pack-'))
// A checkout runs from src/ (the tessera-source condition; bin/tessera.js ignores a dist/ in a
// checkout), but plain `node` resolves @tessera/* to dist/: builds made here for packing are
// removed afterwards, so they cannot go stale under a later edit.
const builtHere = PACKAGES.map((name) => join(ROOT, 'packages', name, 'dist')).filter((dir) => !existsSync(dir))
try {
  step('build')
  run('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] })

  step('pack --dry-run, the root and every workspace: no packed path is test code')
  // What `npm pack --dry-run` lists is what would ship: the root (private, but packable: its `files`
  // keeps it to the docs) and every workspace, bench/ included. No test directory in any of them.
  const reports = [
    ...JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT })),
    ...JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--workspaces', '--ignore-scripts'], { cwd: ROOT })),
  ]
  for (const report of reports) {
    const tests = report.files.map((f) => f.path).filter((f) => `/${f}`.includes('/test/') || /\.test\.[cm]?[jt]s$/.test(f))
    if (tests.length) fail(`${report.name} would pack test code: ${tests.slice(0, 5).join(', ')}`)
  }

  step('pack')
  const tarballs = {}
  for (const name of PACKAGES) {
    const dir = join(ROOT, 'packages', name)
    const [report] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], { cwd: dir }))
    tarballs[name] = join(work, report.filename)
    const files = report.files.map((f) => f.path)
    const missing = ['README.md', 'LICENSE', 'SECURITY.md', 'package.json', 'dist/index.js', 'dist/index.d.ts'].filter((f) => !files.includes(f))
    if (!files.some((f) => f.startsWith('docs/'))) missing.push('docs/')
    // The server's account page is plain ES modules loaded by name: each file of web/ must ship, or the page breaks once installed.
    if (name === 'server') missing.push(...readdirSync(join(dir, 'web')).map((f) => `web/${f}`).filter((f) => !files.includes(f)))
    if (missing.length) fail(`${report.name} is missing ${missing.join(', ')}`)
    const tests = files.filter((f) => `/${f}`.includes('/test/') || /(^|\/)test(\/|s?\.)|\.test\.|test-support|hardening|web-test/.test(f))
    if (tests.length) fail(`${report.name} ships test code: ${tests.slice(0, 5).join(', ')}`)
    // A source map is only useful (and only honest) when the source it names is shipped.
    for (const map of files.filter((f) => f.endsWith('.map'))) {
      const { sources } = JSON.parse(readFileSync(join(dir, map), 'utf8'))
      for (const source of sources) {
        const shipped = relative('.', join(dirname(map), source))
        if (!files.includes(shipped)) fail(`${report.name}: ${map} points at ${shipped}, which is not shipped`)
      }
    }
    // Every relative link of the package README must resolve inside the package.
    const readme = readFileSync(join(dir, 'README.md'), 'utf8')
    for (const [, target] of readme.matchAll(/\]\(((?!https?:|#)[^)#]+)/g)) {
      if (!files.some((f) => f === target || f.startsWith(`${target.replace(/\/$/, '')}/`))) fail(`${report.name}: README links to ${target}, which is not in the package`)
    }
    const problems = dependencyProblems(dir, files)
    if (problems.length) fail(problems.join('\n'))
    console.log(`   ${report.name}: ${files.length} files, ${(report.size / 1024).toFixed(0)} kB`)
  }

  step('install the verifier alone (core, redis, verifier tarballs) into a fresh project')
  const app = join(work, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pack-check-app', private: true, type: 'module' }, null, 2))
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...VERIFIER_ONLY.map((n) => tarballs[n])], { cwd: app, stdio: ['ignore', 'inherit', 'inherit'] })

  step('dependency tree of @tessera/verifier')
  const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'))
  const installed = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'))
  const problems = []
  for (const [path, meta] of installed) {
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)
    if (FORBIDDEN.test(name)) problems.push(`${name} (database driver, mailer, native build or server framework)`)
    if (meta.hasInstallScript) problems.push(`${name} (runs an install script)`)
    const dir = join(app, path)
    if (existsSync(join(dir, 'binding.gyp')) || readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith('.node'))) problems.push(`${name} (native module)`)
  }
  console.log(`   ${installed.length} packages: ${installed.map(([p]) => p.slice(p.lastIndexOf('node_modules/') + 13)).sort().join(', ')}`)
  if (problems.length) fail(`the verifier's install holds ${problems.join('; ')}`)

  step('compile the consumers with strict TypeScript against the published types')
  for (const file of ['consumer.mts', 'consumer.cts']) copyFileSync(join(ROOT, 'scripts', 'pack-check', file), join(app, file))
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', skipLibCheck: false,
        // @types/node from the repository: the consumer itself installs only the three tarballs.
        typeRoots: [join(ROOT, 'node_modules', '@types')], types: ['node'],
      },
      files: ['consumer.mts', 'consumer.cts'],
    }),
  )
  run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: app, stdio: ['ignore', 'inherit', 'inherit'] })

  step(`run them against Redis (${REDIS_URL.replace(/\/\/[^@]*@/, '//')})`)
  const prefix = `tessera-test:pack:${randomUUID()}:`
  // No NODE_OPTIONS from the caller: the packages must load from dist/, not through a development condition.
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL, KEY_PREFIX: prefix }
  process.stdout.write(`   ${run(process.execPath, ['consumer.mjs'], { cwd: app, env })}`)
  process.stdout.write(`   ${run(process.execPath, ['consumer.cjs'], { cwd: app, env })}`)

  step('install all five tarballs into a second fresh project')
  const full = join(work, 'full')
  mkdirSync(full)
  writeFileSync(join(full, 'package.json'), JSON.stringify({ name: 'pack-check-full', private: true, type: 'module' }, null, 2))
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...PACKAGES.map((n) => tarballs[n])], { cwd: full, stdio: ['ignore', 'inherit', 'inherit'] })
  await checkInstalledCommands(full)
  step('ok')
} catch (err) {
  if (!(err instanceof PackCheckFailure)) throw err
  console.error(`pack-check: ${err.message}`)
  process.exitCode = 1
} finally {
  rmSync(work, { recursive: true, force: true })
  for (const dir of builtHere) rmSync(dir, { recursive: true, force: true })
}
