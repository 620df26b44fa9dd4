#!/usr/bin/env node
// Times `tessera serve` from a checkout (sources through tsx) until its
// "tessera listening on" line, for docs/server.md's "Measured" figures: each run
// starts a fresh data dir twice (first start, then a later start) and the
// median is printed with the load average.
//   node scripts/measure-startup.mjs [runs]                    embedded defaults
//   node scripts/measure-startup.mjs [runs] --redis-postgres   REDIS_URL and DATABASE_URL (a fresh schema each run)
//   node scripts/measure-startup.mjs [runs] --npm-start        through `npm start`, as the README runs it (npm's own start-up included)
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 5)
const external = process.argv.includes('--redis-postgres')
const viaNpm = process.argv.includes('--npm-start')
const REDIS_URL = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const DATABASE_URL = process.env.TESSERA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** Starts the server, resolves when it listens (then stops it): seconds to listening and to its first output. */
function start(env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const [command, args] = viaNpm
      ? ['npm', ['start', '--silent']]
      : [process.execPath, ['--conditions=tessera-source', '--import', 'tsx', join(root, 'packages/server/src/cli/main.ts'), 'serve']]
    // npm runs the server as its child: a group of their own lets the stop reach both.
    const child = spawn(command, args, {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: viaNpm,
    })
    let out = ''
    let firstOutput = null
    const on = (chunk) => {
      firstOutput ??= (performance.now() - t0) / 1000
      out += chunk
      if (!out.includes('tessera listening on')) return
      if (viaNpm) process.kill(-child.pid, 'SIGTERM')
      else child.kill('SIGTERM')
      resolve({ listening: (performance.now() - t0) / 1000, firstOutput, stopped: new Promise((r) => child.once('exit', r)) })
    }
    child.stdout.on('data', on)
    child.stderr.on('data', on)
    child.once('exit', (code) => reject(new Error(`exited with ${code} before listening: ${out}`)))
  })
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
const range = (a) => `${Math.min(...a).toFixed(1)}-${Math.max(...a).toFixed(1)} s`
const pg = external ? createRequire(join(root, 'package.json'))('pg') : null
const first = []
const later = []
const firstOutput = []
for (let i = 0; i < runs; i++) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-startup-'))
  const env = { TESSERA_DATA_DIR: dataDir }
  let db = null
  const schema = `t_startup_${process.pid}_${i}`
  if (external) {
    db = new pg.Client({ connectionString: DATABASE_URL })
    await db.connect()
    await db.query(`CREATE SCHEMA ${schema}`)
    Object.assign(env, { REDIS_URL, TESSERA_REDIS_PREFIX: `tessera-test:startup:${process.pid}:${i}:`, TESSERA_TOKEN_KEY: 'startup-measurement-token-key-32-bytes', DATABASE_URL, TESSERA_DATABASE_SCHEMA: schema })
  }
  const load = loadavg()[0].toFixed(1)
  try {
    const a = await start(env)
    await a.stopped
    const b = await start(env)
    await b.stopped
    first.push(a.listening)
    later.push(b.listening)
    firstOutput.push(a.firstOutput)
    console.log(`run ${i + 1} (load ${load}): first start ${a.listening.toFixed(2)} s (first output after ${a.firstOutput.toFixed(2)} s), later start ${b.listening.toFixed(2)} s`)
  } finally {
    if (db) {
      await db.query(`DROP SCHEMA ${schema} CASCADE`)
      await db.end()
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
}
console.log(
  `${external ? 'redis+postgresql' : 'embedded'}${viaNpm ? ' (npm start)' : ''}, median of ${runs}: first start ${median(first).toFixed(1)} s (${range(first)}), ` +
    `first output after ${median(firstOutput).toFixed(1)} s, later start ${median(later).toFixed(1)} s (${range(later)}); load average now ${loadavg().map((x) => x.toFixed(1)).join(' ')}`,
)
if (external) console.log(`(the signing keys stay in Redis under tessera-test:startup:${process.pid}:*; delete them when done)`)
