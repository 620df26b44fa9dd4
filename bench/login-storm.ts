// Row 7: protected-route p99 while 50 concurrent logins run argon2id, against
// the same route idle; and logins/s at the server's argon2id parameters. The
// protected routes are offered a fixed rate, so the p99s compare like for like.
// Both routes are measured at the same time (half the rate each), so each sees
// the same part of the storm, and each storm starts inside its measured window:
// the first moment of a storm, 50 sign-ins arriving at once, is part of it.
// Run: node --conditions=tessera-source --import tsx bench/login-storm.ts [--smoke]
//   [--priority idle|nice] [--nice <n>] [--neighbour] [--loop-delay] [--profile <dir>]
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { startPrivateRedis } from '../test/support/redis.js'
import { ARGON2_OPTIONS } from '@tessera/server'
import { BENCH_PASSWORD, startAuthServer, type AuthServer } from './lib/auth-server.js'
import { medianOfRounds, runLoad, type LoadFigures } from './lib/load.js'
import { pinProcess, pinSelfToLoadCore, taskset, LOAD_CORE, SERVER_CORE } from './lib/processes.js'
import { bearerRequests } from './lib/refresh-load.js'
import { isSmoke, printRows, type BenchRow } from './lib/report.js'
import { fmt, median, percentile } from './lib/stats.js'

const smoke = isSmoke()
const flag = (name: string): string | undefined => {
  const at = process.argv.indexOf(name)
  return at > 0 ? process.argv[at + 1] : undefined
}
// --profile <dir>: the server writes a V8 CPU profile there when it stops (summarise with bench/lib/profile-summary.ts).
const profileDir = flag('--profile')
const serverNodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []
// --priority idle|nice and --nice <n>: how the server's hashing processes yield the CPU (default: the
// server's own, SCHED_IDLE with a rescue at nice 10). They inherit the server's pinning, so hashing
// and requests share one core.
const priority = flag('--priority')
const nice = flag('--nice')
// --neighbour: one more storm beside a busy loop at nice 0 on the server's core (what a starved sign-in gets).
const withNeighbour = process.argv.includes('--neighbour')
// --loop-delay: the server samples its event-loop delay (every ms) and each window prints the largest.
const withLoopDelay = process.argv.includes('--loop-delay')
const ROUNDS = smoke ? 1 : 3
const WINDOW_SEC = smoke ? 2 : 10
// The storm starts this far into its window, so the window holds its first moment and a quiet lead-in.
const STORM_LEAD_MS = smoke ? 200 : 500
const CONCURRENT_LOGINS = 50
const CONNECTIONS_PER_ROUTE = 5
const RATE_PER_ROUTE = 500
const TARGET_RATIO = 2

interface StormFigures {
  logins: number
  failures: number
  seconds: number
  statuses: Map<string, number>
  loginMs: number[]
}

/** Keeps `CONCURRENT_LOGINS` logins in flight until `stop()`; returns how many succeeded, over how long, and how long each took. */
function loginStorm(server: AuthServer): { stop(): Promise<StormFigures> } {
  let running = true
  const statuses = new Map<string, number>()
  const loginMs: number[] = []
  let logins = 0
  let failures = 0
  const started = process.hrtime.bigint()
  const loop = async (email: string): Promise<void> => {
    while (running) {
      const sent = performance.now()
      try {
        const res = await fetch(`${server.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'bench' },
          body: JSON.stringify({ email, password: BENCH_PASSWORD }),
          signal: AbortSignal.timeout(30_000),
        })
        await res.arrayBuffer()
        if (res.status === 200) {
          logins++
          loginMs.push(performance.now() - sent)
        } else {
          failures++
          statuses.set(String(res.status), (statuses.get(String(res.status)) ?? 0) + 1)
        }
      } catch (err) {
        // A timed-out or refused login is a failed login, reported in the table; the storm goes on.
        failures++
        const name = (err as Error).name
        statuses.set(name, (statuses.get(name) ?? 0) + 1)
      }
    }
  }
  const loops = server.emails.map((email) => loop(email))
  return {
    async stop() {
      running = false
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      await Promise.all(loops)
      return { logins, failures, seconds, statuses, loginMs }
    },
  }
}

/** `percentile` of login times, NaN when no login succeeded. */
const loginPercentile = (values: readonly number[], p: number): number => (values.length ? percentile(values, p) : Number.NaN)

/** How the server's hashing processes are scheduled, read from /proc: "SCHED_IDLE", "nice 10", or "unknown". */
function hashingScheduling(serverPid: number): string {
  try {
    const children = readFileSync(`/proc/${serverPid}/task/${serverPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
    const seen = new Set<string>()
    for (const pid of children) {
      // Fields after the command name start at field 3; nice is field 19, policy field 41.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
      seen.add(fields[41 - 3] === '5' ? 'SCHED_IDLE' : `nice ${fields[19 - 3]}`)
    }
    return seen.size ? [...seen].join(' + ') : 'unknown'
  } catch {
    return 'unknown'
  }
}

const clientPinning = pinSelfToLoadCore()
const redis = await startPrivateRedis()
pinProcess(redis.pid, LOAD_CORE)
let server: AuthServer | null = null
// The server's own hook (the Fastify adapter since issue 14; until commit 7de075a core's jose/WebCrypto
// verify, a libuv pool job per request) and src/verifier (node:crypto, main thread).
const ROUTES = ['/bench/protected', '/bench/protected-verifier'] as const
const idle = new Map<string, LoadFigures[]>(ROUTES.map((r) => [r, []]))
const storm = new Map<string, LoadFigures[]>(ROUTES.map((r) => [r, []]))
const storms: StormFigures[] = []
const loopDelays: { idle: number[]; storm: number[] } = { idle: [], storm: [] }
let neighbourStorm: StormFigures | null = null
let scheduling = 'unknown'
try {
  const env: NodeJS.ProcessEnv = {
    ...(priority ? { BENCH_HASHING_PRIORITY: priority } : {}),
    ...(nice ? { BENCH_HASHING_NICE: nice } : {}),
    ...(withLoopDelay ? { BENCH_LOOP_DELAY: '1' } : {}),
  }
  server = await startAuthServer({ redisUrl: redis.url, users: CONCURRENT_LOGINS, nodeArgs: serverNodeArgs, env })
  const tokens = (await server.createSessions(1000, 'reader')).map((t) => t.access_token)
  const loopDelayMs = async (): Promise<number> => {
    const res = await fetch(`${server!.url}/bench/loop-delay`)
    return ((await res.json()) as { max_ms?: number }).max_ms ?? Number.NaN
  }
  /** Both routes at once, half the rate each, for `seconds`. */
  const bothRoutes = (seconds: number) =>
    Promise.all(ROUTES.map((path) => runLoad({ url: server!.url, connections: CONNECTIONS_PER_ROUTE, overallRate: RATE_PER_ROUTE, duration: seconds, requests: bearerRequests(path, tokens) })))
  await bothRoutes(1)
  // Warm-up storm, not counted: the first logins open the pool's PostgreSQL connections and warm argon2 and the JIT.
  const warm = loginStorm(server)
  await new Promise((resolve) => setTimeout(resolve, smoke ? 500 : 3000))
  await warm.stop()
  scheduling = hashingScheduling(server.pid)
  for (let round = 0; round < ROUNDS; round++) {
    if (withLoopDelay) await loopDelayMs()
    const quiet = await bothRoutes(WINDOW_SEC)
    if (withLoopDelay) loopDelays.idle.push(await loopDelayMs())
    const loads = bothRoutes(WINDOW_SEC)
    await new Promise((resolve) => setTimeout(resolve, STORM_LEAD_MS))
    const logins = loginStorm(server)
    const busy = await loads
    const done = await logins.stop()
    if (withLoopDelay) loopDelays.storm.push(await loopDelayMs())
    storms.push(done)
    ROUTES.forEach((path, i) => {
      idle.get(path)!.push(quiet[i]!)
      storm.get(path)!.push(busy[i]!)
      console.log(`round ${round + 1} ${path}: idle p99 ${quiet[i]!.p99Ms} ms, during logins p99 ${busy[i]!.p99Ms} ms (${fmt(busy[i]!.rps)} of ${RATE_PER_ROUTE} req/s served)`)
    })
    const delays = withLoopDelay ? `; server event loop max delay ${loopDelays.idle.at(-1)} ms idle, ${loopDelays.storm.at(-1)} ms during logins` : ''
    console.log(`round ${round + 1}: ${fmt(done.logins / done.seconds)} logins/s, login p50 ${fmt(loginPercentile(done.loginMs, 50))} ms p99 ${fmt(loginPercentile(done.loginMs, 99))} ms${done.failures ? `, failed: ${[...done.statuses].map(([k, n]) => `${k} x${n}`).join(', ')}` : ''}${delays}`)
  }
  if (withNeighbour) {
    // A busy loop at nice 0 on the server's core: the hashing processes get only what the scheduler leaves them.
    const path = taskset()
    const loopArgs = ['-e', 'for (;;) {}']
    const busyLoop = path ? spawn(path, ['-c', String(SERVER_CORE), process.execPath, ...loopArgs], { stdio: 'ignore' }) : spawn(process.execPath, loopArgs, { stdio: 'ignore' })
    try {
      await new Promise((resolve) => setTimeout(resolve, 500))
      const logins = loginStorm(server)
      await new Promise((resolve) => setTimeout(resolve, WINDOW_SEC * 1000))
      neighbourStorm = await logins.stop()
    } finally {
      busyLoop.kill('SIGKILL')
    }
    const n = neighbourStorm
    console.log(`beside a busy loop: ${fmt(n.logins / n.seconds)} logins/s, login p50 ${fmt(loginPercentile(n.loginMs, 50))} ms p99 ${fmt(loginPercentile(n.loginMs, 99))} ms${n.failures ? `, failed: ${[...n.statuses].map(([k, v]) => `${k} x${v}`).join(', ')}` : ''}`)
  }
} finally {
  await server?.stop()
  await redis.stop()
}

const hashing = `hashing at ${scheduling}`
const stormLabel = `both routes at once, ${RATE_PER_ROUTE} req/s each; the storm starts ${STORM_LEAD_MS} ms into each ${WINDOW_SEC} s window`
const loginsPerSec = median(storms.map((s) => s.logins / s.seconds))
const loginFailures = storms.reduce((sum, s) => sum + s.failures, 0)
const params = `argon2id m=${ARGON2_OPTIONS.memoryCost} KiB t=${ARGON2_OPTIONS.timeCost} p=${ARGON2_OPTIONS.parallelism}`
const rows: BenchRow[] = ROUTES.map((path) => {
  const i = medianOfRounds(idle.get(path)!)
  const s = medianOfRounds(storm.get(path)!)
  const ratio = s.p99Ms / Math.max(i.p99Ms, 1)
  return {
    row: `7 ${path === '/bench/protected' ? 'server route (app.authenticate)' : 'verifier route (src/verifier, node:crypto)'} p99 during ${CONCURRENT_LOGINS} logins (${hashing}; ${stormLabel})`,
    figure: `${fmt(s.p99Ms)} ms (idle ${fmt(i.p99Ms)} ms; ${fmt(s.rps)} of ${RATE_PER_ROUTE} req/s served)`,
    target: `<= ${TARGET_RATIO}x idle`,
    ratio: `${fmt(ratio)}x`,
    met: ratio <= TARGET_RATIO && s.failures === 0,
  }
})
const allLoginMs = storms.flatMap((s) => s.loginMs)
rows.push({
  row: `7 logins/s (${params}, ${hashing})`,
  figure: `${fmt(loginsPerSec)} logins/s (login p50 ${fmt(loginPercentile(allLoginMs, 50))} ms, p99 ${fmt(loginPercentile(allLoginMs, 99))} ms)${loginFailures ? `, ${loginFailures} failed` : ''}`,
  target: 'report',
  met: null,
})
if (neighbourStorm) {
  const n = neighbourStorm
  rows.push({
    row: `7 logins/s beside a busy loop at nice 0 on the server's core (${hashing})`,
    figure: `${fmt(n.logins / n.seconds)} logins/s (login p50 ${fmt(loginPercentile(n.loginMs, 50))} ms, p99 ${fmt(loginPercentile(n.loginMs, 99))} ms)${n.failures ? `; not signed in: ${[...n.statuses].map(([k, v]) => `${k} x${v}`).join(', ')}` : ''}`,
    target: 'report',
    met: null,
  })
}
printRows(`Login storm (server and its hashing processes: taskset -c ${SERVER_CORE}, ${hashing}; load: ${clientPinning}; ${stormLabel}; ${ROUNDS} rounds)`, rows)
