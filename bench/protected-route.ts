// Protected-route throughput: Fastify with no auth vs @fastify/jwt (ES256, no
// revocation check) vs Tessera in signature, strict and cached mode, and the
// floor of strict mode (no auth plus one Redis command per request), with
// 10,000 distinct live tokens in rotation, autocannon 100 connections, several
// rounds, median. Servers run pinned to core 0; run this driver pinned to core 1:
//   taskset -c 1 node --conditions=tessera-source --import tsx bench/protected-route.ts [--rounds 5] [--seconds 5] [--tokens 10000] [--profile <dir>]
// --profile <dir>: after the rounds, one more load of each of no-auth and strict under the V8
// profiler (warm processes: no start-up or JIT in it), written to <dir>/<variant>.cpuprofile and
// summarised (self time by owner and function), to show where strict mode's extra time goes.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, readFileSync } from 'node:fs'
import { join, resolve as resolvePath } from 'node:path'
import autocannon from 'autocannon'
import { createTessera, SigningKeySet } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { deleteKeys, startPrivateRedis, type PrivateRedis } from '../test/support/redis.js'
import { CODE_FLAGS } from './lib/processes.js'
import { summarise } from './lib/profile-summary.js'

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`)
  return at > 0 ? Number(process.argv[at + 1]) : fallback
}
const ROUNDS = arg('rounds', 5)
const SECONDS = arg('seconds', 5)
const TOKENS = arg('tokens', 10_000)
const CONNECTIONS = 100
const PROFILE_DIR = (() => {
  const at = process.argv.indexOf('--profile')
  return at > 0 ? resolvePath(process.argv[at + 1]!) : null
})()
const PROFILED: readonly Variant[] = ['none', 'strict']
const PREFIX = `bench:route:${randomBytes(4).toString('hex')}:`
const ISSUER = 'https://auth.bench'
const AUDIENCE = 'api'
const VARIANTS = ['none', 'redis-roundtrip', 'fastify-jwt', 'signature', 'strict', 'cached'] as const
type Variant = (typeof VARIANTS)[number]

const hasTaskset = await new Promise<boolean>((resolve) => {
  const probe = spawn('taskset', ['-c', '0', 'true'], { stdio: 'ignore' })
  probe.on('error', () => resolve(false))
  probe.on('exit', (code) => resolve(code === 0))
})

async function startServer(variant: Variant, keysJson: string): Promise<{ url: string; child: ChildProcess }> {
  const command = [process.execPath, ...CODE_FLAGS, '--import', 'tsx', 'bench/protected-server.ts', variant]
  const child = hasTaskset ? spawn('taskset', ['-c', '0', ...command], { stdio: ['ignore', 'pipe', 'inherit'], env: childEnv(keysJson, variant) }) : spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], env: childEnv(keysJson, variant) })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${variant} server did not start`)), 30_000)
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /READY (\S+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    })
    child.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)))
  })
  return { url, child }
}

function childEnv(keysJson: string, variant: Variant): NodeJS.ProcessEnv {
  const profile = PROFILE_DIR && PROFILED.includes(variant) ? { BENCH_PROFILE: join(PROFILE_DIR, `${variant}.cpuprofile`) } : {}
  return { ...process.env, BENCH_KEYS: keysJson, BENCH_REDIS_URL: REDIS_URL, BENCH_PREFIX: PREFIX, BENCH_ISSUER: ISSUER, BENCH_AUDIENCE: AUDIENCE, ...profile }
}

/** One more load of each profiled variant under the V8 profiler, then the summary of where the time went. */
async function profileRuns(tokens: string[]): Promise<void> {
  mkdirSync(PROFILE_DIR!, { recursive: true })
  for (const variant of PROFILED) {
    const { url } = servers.get(variant)!
    await fetch(`${url}/__profile/start`, { method: 'POST' })
    const r = await load(url, tokens, SECONDS)
    await fetch(`${url}/__profile/stop`, { method: 'POST' })
    const file = join(PROFILE_DIR!, `${variant}.cpuprofile`)
    const { totalMs, functions, owners } = summarise(JSON.parse(readFileSync(file, 'utf8')))
    const pct = (ms: number) => `${((100 * ms) / totalMs).toFixed(1)}%`.padStart(6)
    console.log(`\nCPU profile of ${variant} (${file}), ${Math.round(r.rps)} req/s, ${r.cpuPerRequestUs.toFixed(1)} us CPU/req; self time by owner:`)
    for (const [name, ms] of owners.slice(0, 12)) console.log(`  ${pct(ms)}  ${name}`)
    console.log('self time by function:')
    for (const [name, ms] of functions.slice(0, 25)) console.log(`  ${pct(ms)}  ${name}`)
  }
}

async function cpuMicros(url: string): Promise<number> {
  const usage = (await (await fetch(`${url}/__cpu`)).json()) as { user: number; system: number }
  return usage.user + usage.system
}

/** `seconds` of load, or with `amount` exactly that many requests. */
async function load(url: string, tokens: string[], seconds: number, amount?: number): Promise<{ rps: number; ok: number; bad: number; cpuPerRequestUs: number }> {
  let next = 0
  const cpuBefore = await cpuMicros(url)
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    ...(amount ? { amount } : { duration: seconds }),
    requests: [
      {
        method: 'GET',
        path: '/hello',
        setupRequest: (request) => {
          request.headers = { authorization: `Bearer ${tokens[next++ % tokens.length]}` }
          return request
        },
      },
    ],
  })
  const cpuAfter = await cpuMicros(url)
  const ok = result['2xx']
  return { rps: result.requests.average, ok, bad: result.non2xx + result.errors + result.timeouts, cpuPerRequestUs: (cpuAfter - cpuBefore) / Math.max(1, ok) }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

// A private redis-server pinned next to the load generator (core 1), so the server on core 0 is what is measured
// and other people's Redis traffic is not; TESSERA_BENCH_REDIS_URL uses an existing Redis instead.
let privateRedis: PrivateRedis | null = null
if (!process.env.TESSERA_BENCH_REDIS_URL) {
  privateRedis = await startPrivateRedis()
  if (hasTaskset) await once(spawn('taskset', ['-a', '-c', '-p', '1', String(privateRedis.pid)], { stdio: 'ignore' }), 'exit')
}
const REDIS_URL = process.env.TESSERA_BENCH_REDIS_URL ?? privateRedis!.url
const keys = await SigningKeySet.generate({ alg: 'ES256' })
const store = await RedisSessionStore.connect({ url: REDIS_URL, keyPrefix: PREFIX })
const servers = new Map<Variant, { url: string; child: ChildProcess }>()
try {
  const tessera = await createTessera({ store, keys, issuer: ISSUER, audience: AUDIENCE, tokenKey: randomBytes(32), maxSessions: 60 })
  const tokens: string[] = []
  const started = Date.now()
  for (let i = 0; i < TOKENS; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, TOKENS - i) }, (_, j) => tessera.createSession({ userId: `user-${(i + j) % 2000}` })))
    for (const s of batch) tokens.push(s.accessToken)
  }
  // A realistic log: some revocations of other sessions exist, so cached mode's set is not empty.
  for (let i = 0; i < 200; i++) await tessera.revokeSession((await tessera.createSession({ userId: `gone-${i}` })).sessionId)
  console.error(
    `made ${tokens.length} tokens in ${Date.now() - started} ms; taskset ${hasTaskset ? 'on (servers core 0, run the driver on core 1)' : 'not available'}; Redis ${privateRedis ? 'private, pinned to core 1' : REDIS_URL}`,
  )

  for (const variant of VARIANTS) servers.set(variant, await startServer(variant, JSON.stringify(keys.toJSON())))
  for (const [variant, { url }] of servers) {
    const yes = await fetch(`${url}/hello`, { headers: { authorization: `Bearer ${tokens[0]}` } })
    const no = await fetch(`${url}/hello`)
    if (yes.status !== 200 || (variant !== 'none' && variant !== 'redis-roundtrip' && no.status !== 401)) throw new Error(`${variant}: sanity check failed (${yes.status}/${no.status})`)
    // Warm-up: JIT, and every token once through the verification caches, as in a service that has been up a while.
    await load(url, tokens, 0, tokens.length + 2000)
  }

  const results = new Map<Variant, { rps: number; ok: number; bad: number; cpuPerRequestUs: number }[]>(VARIANTS.map((v) => [v, []]))
  for (let round = 1; round <= ROUNDS; round++) {
    // Rotated order, so no variant always runs right after the same neighbour.
    for (let v = 0; v < VARIANTS.length; v++) {
      const variant = VARIANTS[(v + round - 1) % VARIANTS.length]!
      const r = await load(servers.get(variant)!.url, tokens, SECONDS)
      results.get(variant)!.push(r)
      console.error(`round ${round} ${variant}: ${Math.round(r.rps)} req/s, ${r.cpuPerRequestUs.toFixed(1)} us CPU/req, ${r.bad} not 2xx`)
    }
  }

  const summary = VARIANTS.map((variant) => {
    const runs = results.get(variant)!
    return { variant, rps: median(runs.map((r) => r.rps)), cpu: median(runs.map((r) => r.cpuPerRequestUs)), bad: runs.reduce((n, r) => n + r.bad, 0) }
  })
  const base = summary.find((s) => s.variant === 'none')!
  const jwt = summary.find((s) => s.variant === 'fastify-jwt')!
  const label: Record<Variant, string> = {
    none: 'Fastify, no auth',
    'redis-roundtrip': 'Fastify, no auth, one Redis round trip per request (node-redis EXISTS; the floor of a per-request store check)',
    'fastify-jwt': '@fastify/jwt ES256, no revocation check',
    signature: 'Tessera signature mode',
    strict: 'Tessera strict mode (Redis check per request)',
    cached: 'Tessera cached mode',
  }
  console.log(`\nProtected route, ${TOKENS} distinct live ES256 tokens in rotation, autocannon ${CONNECTIONS} connections, ${ROUNDS} rounds x ${SECONDS} s, median\n`)
  // Server CPU per request is the capacity figure that survives a shared machine: req/s also moves with
  // whatever else runs (and with the load generator's own ceiling); CPU time spent per request does not.
  console.log('| server | req/s | x no-auth | x @fastify/jwt | server CPU us/req | capacity by CPU vs no-auth | capacity by CPU vs @fastify/jwt | not 2xx |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const s of summary) {
    console.log(
      `| ${label[s.variant]} | ${Math.round(s.rps)} | ${(s.rps / base.rps).toFixed(2)} | ${(s.rps / jwt.rps).toFixed(2)} | ${s.cpu.toFixed(1)} | ${(base.cpu / s.cpu).toFixed(2)} | ${(jwt.cpu / s.cpu).toFixed(2)} | ${s.bad} |`,
    )
  }
  if (PROFILE_DIR) await profileRuns(tokens)
} finally {
  for (const { child } of servers.values()) {
    if (child.exitCode === null && child.pid) {
      process.kill(child.pid, 'SIGTERM')
      await once(child, 'exit')
    }
  }
  await store.close()
  if (privateRedis) await privateRedis.stop()
  else await deleteKeys(REDIS_URL, PREFIX)
}
