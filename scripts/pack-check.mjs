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
//    CommonJS through require(esm) (Node.js >= 20.19).
import { execFileSync } from 'node:child_process'
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
const fail = (message) => {
  console.error(`pack-check: ${message}`)
  process.exit(1)
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
  step('ok')
} finally {
  rmSync(work, { recursive: true, force: true })
  for (const dir of builtHere) rmSync(dir, { recursive: true, force: true })
}
