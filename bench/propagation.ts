// Revocation propagation: revoke through the library in this process; three
// cached-mode verifier processes must reject the token. Latency per revocation
// = from revokeSession()'s return to the last of the three rejecting, over N
// revocations; p50/p99/max. Each verifier stamps its rejection on the shared
// monotonic clock; the driver also notes when each report arrived (adds IPC).
//   node --conditions=tessera-source --import tsx bench/propagation.ts [--revocations 1000] [--verifiers 3]
// Diagnostics (not the figure): --stages adds where the slowest refusals' time went (when the XREAD reply reached the
// last verifier, its own work after that, its CPU, GC of any process in the window); --verifier-core <n> pins the
// verifiers to core n instead of the driver's, to see what sharing one core costs.
// The floor row (same run, same layout): three bare node-redis clients blocked on XREAD of a stream, no Tessera
// code, from the driver's XADD returning to the last of them holding the entry (propagation-floor-reader.ts): what
// any Node process following a Redis stream gets on this machine.
import { fork, type ChildProcess } from 'node:child_process'
import { PerformanceObserver } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createClient } from 'redis'
import { createTessera, SigningKeySet } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { deleteKeys, startPrivateRedis, type PrivateRedis } from '../test/support/redis.js'
import { CODE_FLAGS, pinProcess } from './lib/processes.js'

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`)
  return at > 0 ? Number(process.argv[at + 1]) : fallback
}
const REVOCATIONS = arg('revocations', 1000)
const VERIFIERS = arg('verifiers', 3)
/** Stage stamps in each verifier (see propagation-verifier.ts): where the time of the slowest refusals goes. */
const STAGES = process.argv.includes('--stages')
/** Diagnostic only: the verifiers on this core instead of the driver's (taskset), to see what sharing one core costs. */
const VERIFIER_CORE = process.argv.includes('--verifier-core') ? arg('verifier-core', 0) : null
const PREFIX = `bench:prop:${randomBytes(4).toString('hex')}:`
const ISSUER = 'https://auth.bench'
const AUDIENCE = 'api'
// CLOCK_MONOTONIC in ms: the same clock in every process on this machine (performance.timeOrigin is not:
// it is fixed from the wall clock at each process's start and was seen several ms apart between processes).
const now = () => Number(process.hrtime.bigint()) / 1e6

interface Message {
  type: 'ready' | 'watching' | 'rejected' | 'error' | 'gcs' | 'floor-ready' | 'floor-received'
  id?: number
  atMs?: number
  code?: string
  dataAtMs?: number
  appliedAtMs?: number
  cpuUs?: number
  gcs?: [number, number][]
}

// A private redis-server, so other people's Redis traffic is not in the figures; TESSERA_BENCH_REDIS_URL uses an existing one.
const privateRedis: PrivateRedis | null = process.env.TESSERA_BENCH_REDIS_URL ? null : await startPrivateRedis()
const REDIS_URL = process.env.TESSERA_BENCH_REDIS_URL ?? privateRedis!.url
const keys = await SigningKeySet.generate({ alg: 'ES256' })
const store = await RedisSessionStore.connect({ url: REDIS_URL, keyPrefix: PREFIX })
const children: ChildProcess[] = []
/** --stages: GC pauses of every Node process here, [start on the shared clock, ms]. */
const gcs: [number, number][] = []
if (STAGES) {
  const offset = now() - performance.now()
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcs.push([entry.startTime + offset, entry.duration])
  }).observe({ entryTypes: ['gc'] })
}
try {
  const tessera = await createTessera({ store, keys, issuer: ISSUER, audience: AUDIENCE, tokenKey: randomBytes(32), maxSessions: 60 })
  const sessions = []
  for (let i = 0; i < REVOCATIONS; i += 100) {
    sessions.push(...(await Promise.all(Array.from({ length: Math.min(100, REVOCATIONS - i) }, (_, j) => tessera.createSession({ userId: `user-${(i + j) % 500}` })))))
  }
  const env = { ...process.env, ...(STAGES ? { BENCH_STAGES: '1' } : {}), BENCH_KEYS: JSON.stringify(keys.toJSON()), BENCH_REDIS_URL: REDIS_URL, BENCH_PREFIX: PREFIX, BENCH_ISSUER: ISSUER, BENCH_AUDIENCE: AUDIENCE }
  for (let i = 0; i < VERIFIERS; i++) children.push(fork('bench/propagation-verifier.ts', [], { env, execArgv: [...CODE_FLAGS, '--import', 'tsx'] }))
  if (VERIFIER_CORE !== null) for (const child of children) pinProcess(child.pid!, VERIFIER_CORE)

  // One waiter per (kind, id): resolves when every child has sent it, with each child's stamp and when it arrived.
  interface Arrivals {
    stamped: number[]
    received: number[]
    messages: Message[]
  }
  let gcReports = 0
  const pending = new Map<string, { left: number; arrivals: Arrivals; resolve: (arrivals: Arrivals) => void }>()
  const expect = (key: string) => new Promise<Arrivals>((resolve) => pending.set(key, { left: VERIFIERS, arrivals: { stamped: [], received: [], messages: [] }, resolve }))
  const listen = (child: ChildProcess) =>
    child.on('message', (message: Message) => {
      if (message.type === 'gcs') {
        gcs.push(...message.gcs!)
        gcReports++
        return
      }
      if (message.type === 'error') throw new Error(`verifier refused a live token: ${message.code}`)
      const key = `${message.type}:${message.id ?? ''}`
      const waiter = pending.get(key)
      if (!waiter) return
      waiter.arrivals.received.push(now())
      if (message.atMs !== undefined) waiter.arrivals.stamped.push(message.atMs)
      waiter.arrivals.messages.push(message)
      if (--waiter.left === 0) {
        pending.delete(key)
        waiter.resolve(waiter.arrivals)
      }
    })
  for (const child of children) listen(child)
  await expect('ready:')

  const stamped: number[] = []
  const received: number[] = []
  /** --stages: for the last verifier to refuse, [reply arrived, applied, refused] relative to the revoke's return; its CPU and GC. */
  const stages: { index: number; returnedAt: number; total: number; data: number; applied: number; refused: number; cpuMs: number; gcMs: number; firstData: number }[] = []
  const started = Date.now()
  for (let id = 0; id < sessions.length; id++) {
    const { accessToken, sessionId } = sessions[id]!
    const watching = expect(`watching:${id}`)
    for (const child of children) child.send({ type: 'watch', id, token: accessToken })
    await watching
    const rejected = expect(`rejected:${id}`)
    await tessera.revokeSession(sessionId)
    const returnedAt = now()
    const arrivals = await rejected
    stamped.push(Math.max(...arrivals.stamped) - returnedAt)
    received.push(Math.max(...arrivals.received) - returnedAt)
    if (STAGES) {
      const last = arrivals.messages.reduce((a, b) => (b.atMs! > a.atMs! ? b : a))
      stages.push({
        index: id,
        returnedAt,
        total: last.atMs! - returnedAt,
        data: last.dataAtMs! - returnedAt,
        applied: last.appliedAtMs! - last.dataAtMs!,
        refused: last.atMs! - last.appliedAtMs!,
        cpuMs: last.cpuUs! / 1000,
        gcMs: 0,
        firstData: Math.min(...arrivals.messages.map((m) => m.dataAtMs!)) - returnedAt,
      })
    }
  }
  const elapsed = Date.now() - started

  // The floor: the same number of processes on the same core, bare XREAD readers instead of verifiers.
  const floorStream = `${PREFIX}floor`
  const floorEnv = { ...process.env, BENCH_REDIS_URL: REDIS_URL, BENCH_FLOOR_STREAM: floorStream }
  const floorReady = expect('floor-ready:')
  const readers = Array.from({ length: VERIFIERS }, () => fork('bench/propagation-floor-reader.ts', [], { env: floorEnv, execArgv: [...CODE_FLAGS, '--import', 'tsx'] }))
  children.push(...readers)
  for (const reader of readers) {
    if (VERIFIER_CORE !== null) pinProcess(reader.pid!, VERIFIER_CORE)
    listen(reader)
  }
  await floorReady
  const writer = createClient({ url: REDIS_URL })
  await writer.connect()
  const floor: number[] = []
  try {
    // One entry first, unmeasured: every reader has read once and is back in XREAD.
    for (let id = -1; id < sessions.length; id++) {
      const received = expect(`floor-received:${id}`)
      await writer.xAdd(floorStream, '*', { id: String(id) })
      const returnedAt = now()
      const arrivals = await received
      if (id >= 0) floor.push(Math.max(...arrivals.stamped) - returnedAt)
    }
  } finally {
    await writer.close()
  }
  const pct = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)]!
  const fmt = (v: number) => v.toFixed(2)
  console.log(`\nRevocation propagation, ${REVOCATIONS} revocations, ${VERIFIERS} cached-mode verifier processes, loopback Redis ${privateRedis ? '(private)' : REDIS_URL} (${elapsed} ms total)\n`)
  console.log('| measured | p50 ms | p99 ms | max ms |')
  console.log('| --- | ---: | ---: | ---: |')
  console.log(`| revoke returned -> all ${VERIFIERS} rejected (stamped in each verifier, shared monotonic clock) | ${fmt(pct(stamped, 50))} | ${fmt(pct(stamped, 99))} | ${fmt(Math.max(...stamped))} |`)
  console.log(`| revoke returned -> all ${VERIFIERS} reports received by the driver (adds IPC delivery) | ${fmt(pct(received, 50))} | ${fmt(pct(received, 99))} | ${fmt(Math.max(...received))} |`)
  console.log(`| floor: XADD returned -> all ${VERIFIERS} bare node-redis XREAD readers hold the entry (no Tessera code, placed as the verifiers) | ${fmt(pct(floor, 50))} | ${fmt(pct(floor, 99))} | ${fmt(Math.max(...floor))} |`)
  if (STAGES) {
    for (const child of children) child.send({ type: 'gcs' })
    while (gcReports < VERIFIERS) await new Promise((resolve) => setTimeout(resolve, 10))
    // GC time of any of the processes inside [revoke returned - 1 ms, last refusal]: the core they share was not free.
    for (const row of stages) {
      const from = row.returnedAt - 1
      const to = row.returnedAt + row.total
      for (const [start, duration] of gcs) row.gcMs += Math.max(0, Math.min(to, start + duration) - Math.max(from, start))
    }
    const sorted = [...stages].sort((a, b) => a.total - b.total)
    const slice = (from: number, to: number) => sorted.slice(Math.floor(from * sorted.length), Math.ceil(to * sorted.length))
    const mean = (rows: typeof stages, key: keyof (typeof stages)[number]) => rows.reduce((sum, r) => sum + r[key], 0) / rows.length
    console.log(`\nStages of the last verifier to refuse (ms from the revoke's return; means over each slice of revocations, by total)${VERIFIER_CORE !== null ? `; verifiers on core ${VERIFIER_CORE}` : ''}\n`)
    console.log('| slice | total | first verifier\'s reply arrived | last verifier\'s reply arrived | reply -> applied | applied -> refused | its CPU data -> refused | GC of any process in the window |')
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const [name, rows] of [['p0-p50', slice(0, 0.5)], ['p50-p90', slice(0.5, 0.9)], ['p90-p99', slice(0.9, 0.99)], ['p99-max', slice(0.99, 1)]] as const) {
      console.log(`| ${name} (${rows.filter((r) => r.index < sorted.length / 5).length} of ${rows.length} in the first fifth) | ${fmt(mean(rows, 'total'))} | ${fmt(mean(rows, 'firstData'))} | ${fmt(mean(rows, 'data'))} | ${fmt(mean(rows, 'applied'))} | ${fmt(mean(rows, 'refused'))} | ${fmt(mean(rows, 'cpuMs'))} | ${fmt(mean(rows, 'gcMs'))} |`)
    }
  }
} finally {
  for (const child of children) {
    if (child.exitCode === null && child.pid) {
      child.send({ type: 'stop' })
      const timer = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 3000)
      await once(child, 'exit')
      clearTimeout(timer)
    }
  }
  await store.close()
  if (privateRedis) await privateRedis.stop()
  else await deleteKeys(REDIS_URL, PREFIX)
}
