// Row 7: protected-route p99 while 50 concurrent logins run argon2id, against
// the same route idle; and logins/s at the server's argon2id parameters. The
// protected route is offered a fixed rate, so the p99s compare like for like.
// Run: node --conditions=tessera-source --import tsx bench/login-storm.ts [--smoke]
import { startPrivateRedis } from '../test/support/redis.js'
import { ARGON2_OPTIONS } from '@tessera/server'
import { BENCH_PASSWORD, startAuthServer, type AuthServer } from './lib/auth-server.js'
import { medianOfRounds, runLoad, type LoadFigures } from './lib/load.js'
import { pinProcess, pinSelfToLoadCore, LOAD_CORE } from './lib/processes.js'
import { bearerRequests } from './lib/refresh-load.js'
import { isSmoke, printRows, type BenchRow } from './lib/report.js'
import { fmt } from './lib/stats.js'

const smoke = isSmoke()
// --profile <dir>: the server writes a V8 CPU profile there when it stops (summarise with bench/lib/profile-summary.ts).
const profileAt = process.argv.indexOf('--profile')
const serverNodeArgs = profileAt > 0 ? ['--cpu-prof', '--cpu-prof-dir', process.argv[profileAt + 1]!] : []
// --nice <n>: CPU priority of the server's hashing processes (default 10, the server's own default; 0 shows
// what the priority buys). They inherit the server's pinning, so hashing and requests share one core.
const niceAt = process.argv.indexOf('--nice')
const nice = niceAt > 0 ? process.argv[niceAt + 1]! : '10'
const ROUNDS = smoke ? 1 : 3
const DURATION_SEC = smoke ? 1 : 5
const CONCURRENT_LOGINS = 50
const CONNECTIONS = 10
const OFFERED_RPS = 1000
const TARGET_RATIO = 2

/** Keeps `CONCURRENT_LOGINS` logins in flight until `stop()`; returns how many succeeded and over how long. */
function loginStorm(server: AuthServer): { stop(): Promise<{ logins: number; failures: number; seconds: number; statuses: Map<string, number> }> } {
  let running = true
  const statuses = new Map<string, number>()
  let logins = 0
  let failures = 0
  const started = process.hrtime.bigint()
  const loop = async (email: string): Promise<void> => {
    while (running) {
      try {
        const res = await fetch(`${server.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'bench' },
          body: JSON.stringify({ email, password: BENCH_PASSWORD }),
          signal: AbortSignal.timeout(30_000),
        })
        await res.arrayBuffer()
        if (res.status === 200) logins++
        else {
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
      return { logins, failures, seconds, statuses }
    },
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
const loginRates: number[] = []
let loginFailures = 0
try {
  server = await startAuthServer({ redisUrl: redis.url, users: CONCURRENT_LOGINS, nodeArgs: serverNodeArgs, env: { BENCH_HASHING_NICE: nice } })
  const tokens = (await server.createSessions(1000, 'reader')).map((t) => t.access_token)
  const load = (path: string) => ({ url: server!.url, connections: CONNECTIONS, overallRate: OFFERED_RPS, requests: bearerRequests(path, tokens) })
  for (const path of ROUTES) await runLoad({ ...load(path), duration: 1 })
  // Warm-up storm, not counted: the first logins open the pool's PostgreSQL connections and warm argon2 and the JIT.
  const warm = loginStorm(server)
  await new Promise((resolve) => setTimeout(resolve, smoke ? 500 : 3000))
  await warm.stop()
  for (let round = 0; round < ROUNDS; round++) {
    for (const path of ROUTES) idle.get(path)!.push(await runLoad({ ...load(path), duration: DURATION_SEC }))
    const logins = loginStorm(server)
    for (const path of ROUTES) storm.get(path)!.push(await runLoad({ ...load(path), duration: DURATION_SEC }))
    const done = await logins.stop()
    loginRates.push(done.logins / done.seconds)
    loginFailures += done.failures
    for (const path of ROUTES) {
      const i = idle.get(path)!.at(-1)!
      const s = storm.get(path)!.at(-1)!
      console.log(`round ${round + 1} ${path}: idle p99 ${i.p99Ms} ms, during logins p99 ${s.p99Ms} ms (${fmt(s.rps)} of ${OFFERED_RPS} req/s served)`)
    }
    console.log(`round ${round + 1}: ${fmt(done.logins / done.seconds)} logins/s${done.failures ? `, failed: ${[...done.statuses].map(([k, n]) => `${k} x${n}`).join(', ')}` : ''}`)
  }
} finally {
  await server?.stop()
  await redis.stop()
}

const loginsPerSec = [...loginRates].sort((a, b) => a - b)[Math.floor((loginRates.length - 1) / 2)]!
const params = `argon2id m=${ARGON2_OPTIONS.memoryCost} KiB t=${ARGON2_OPTIONS.timeCost} p=${ARGON2_OPTIONS.parallelism}`
const rows: BenchRow[] = ROUTES.map((path) => {
  const i = medianOfRounds(idle.get(path)!)
  const s = medianOfRounds(storm.get(path)!)
  const ratio = s.p99Ms / Math.max(i.p99Ms, 1)
  return {
    row: `7 ${path === '/bench/protected' ? 'server route (app.authenticate)' : 'verifier route (src/verifier, node:crypto)'} p99 during ${CONCURRENT_LOGINS} logins (hashing at nice ${nice})`,
    figure: `${fmt(s.p99Ms)} ms (idle ${fmt(i.p99Ms)} ms; ${fmt(s.rps)} of ${OFFERED_RPS} req/s served)`,
    target: `<= ${TARGET_RATIO}x idle`,
    ratio: `${fmt(ratio)}x`,
    met: ratio <= TARGET_RATIO && s.failures === 0,
  }
})
rows.push({ row: `7 logins/s (${params}, hashing at nice ${nice})`, figure: `${fmt(loginsPerSec)} logins/s${loginFailures ? `, ${loginFailures} failed` : ''}`, target: 'report', met: null })
printRows(`Login storm (server and its hashing process: taskset -c 0, hashing at nice ${nice}; load: ${clientPinning}; ${OFFERED_RPS} req/s offered on ${CONNECTIONS} connections; ${ROUNDS} rounds of ${DURATION_SEC} s)`, rows)
