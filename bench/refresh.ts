// Row 3: POST /auth/refresh (rotation, one Redis script) against a route that
// only signs one access token, on the same server process; plus Redis commands
// per refresh from INFO commandstats. Run: node --conditions=tessera-source --import tsx bench/refresh.ts [--smoke]
import { createClient } from 'redis'
import { startPrivateRedis } from '../test/support/redis.js'
import { startAuthServer } from './lib/auth-server.js'
import { medianOfRounds, runLoad, type LoadFigures } from './lib/load.js'
import { pinProcess, pinSelfToLoadCore, LOAD_CORE } from './lib/processes.js'
import { refreshRequests, topUpRefreshPool } from './lib/refresh-load.js'
import { isSmoke, printRows } from './lib/report.js'
import { fmt } from './lib/stats.js'

const smoke = isSmoke()
// --profile <dir>: the server writes a V8 CPU profile there when it stops (summarise with bench/lib/profile-summary.ts).
const profileAt = process.argv.indexOf('--profile')
const serverNodeArgs = profileAt > 0 ? ['--cpu-prof', '--cpu-prof-dir', process.argv[profileAt + 1]!] : []
const ROUNDS = smoke ? 1 : 3
const DURATION_SEC = smoke ? 1 : 5
const CONNECTIONS = 100
const TARGET_COST_RATIO = 1.3

/**
 * Commands Redis received from clients (not those scripts ran) during `count`
 * sequential refreshes, seen through MONITOR, by command name.
 */
async function commandsDuringRefreshes(client: ReturnType<typeof createClient>, baseUrl: string, pool: string[], count: number): Promise<Map<string, number>> {
  const monitor = client.duplicate()
  await monitor.connect()
  const seen = new Map<string, number>()
  let marker: (() => void) | null = null
  await monitor.monitor((line: string) => {
    if (line.includes('"bench-marker"')) marker?.()
    else if (!line.includes(' lua]')) {
      const name = /"([A-Za-z_]+)"/.exec(line)?.[1]?.toUpperCase() ?? '?'
      seen.set(name, (seen.get(name) ?? 0) + 1)
    }
  })
  try {
    for (let i = 0; i < count; i++) {
      const res = await fetch(`${baseUrl}/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: pool.shift() }),
        signal: AbortSignal.timeout(10_000),
      })
      if (res.status !== 200) throw new Error(`refresh answered ${res.status}`)
      pool.push(((await res.json()) as { refresh_token: string }).refresh_token)
    }
    // MONITOR lines arrive asynchronously: a marker sent after the refreshes bounds the wait.
    const arrived = new Promise<void>((resolve) => (marker = resolve))
    await client.echo('bench-marker')
    await arrived
  } finally {
    monitor.destroy()
  }
  seen.delete('ECHO')
  return seen
}

const clientPinning = pinSelfToLoadCore()
const redis = await startPrivateRedis()
pinProcess(redis.pid, LOAD_CORE)
const server = await startAuthServer({ redisUrl: redis.url, nodeArgs: serverNodeArgs })
const client = createClient({ url: redis.url })
const sign: LoadFigures[] = []
const refresh: LoadFigures[] = []
let commandsPerRefresh = 0
let commandNames = ''
try {
  await client.connect()
  const pool = (await server.createSessions(CONNECTIONS * 3, 'refresher')).map((t) => t.refresh_token)
  const sampleBody = JSON.stringify({ refresh_token: pool[0] })
  // Warm-up: JIT and connections, not counted.
  await runLoad({ url: `${server.url}/bench/sign`, connections: CONNECTIONS, duration: 1, method: 'POST', headers: { 'content-type': 'application/json' }, body: sampleBody })
  await runLoad({ url: server.url, connections: CONNECTIONS, duration: 1, requests: refreshRequests(pool) })
  await topUpRefreshPool(server, pool, CONNECTIONS * 3)
  for (let round = 0; round < ROUNDS; round++) {
    sign.push(await runLoad({ serverPid: server.pid, url: `${server.url}/bench/sign`, connections: CONNECTIONS, duration: DURATION_SEC, method: 'POST', headers: { 'content-type': 'application/json' }, body: sampleBody }))
    const r = await runLoad({ serverPid: server.pid, url: server.url, connections: CONNECTIONS, duration: DURATION_SEC, requests: refreshRequests(pool) })
    refresh.push(r)
    await topUpRefreshPool(server, pool, CONNECTIONS * 3)
    const sg = sign.at(-1)!
    console.log(`round ${round + 1}: sign ${fmt(sg.rps)} req/s p99 ${sg.p99Ms} ms ${fmt(sg.cpuUsPerRequest)} us CPU/req; refresh ${fmt(r.rps)} req/s p99 ${r.p99Ms} ms ${fmt(r.cpuUsPerRequest)} us CPU/req, ${r.failures} failures`)
  }
  const probes = 50
  const seen = await commandsDuringRefreshes(client, server.url, pool, probes)
  commandsPerRefresh = [...seen.values()].reduce((a, b) => a + b, 0) / probes
  commandNames = [...seen].map(([name, n]) => `${name} ${fmt(n / probes)}`).join(', ')
  console.log(`Redis commands per refresh over ${probes} sequential refreshes (MONITOR, script internals excluded): ${commandNames}`)
} finally {
  if (client.isOpen) await client.close()
  await server.stop()
  await redis.stop()
}

const s = medianOfRounds(sign)
const r = medianOfRounds(refresh)
// Cost = server CPU (all threads) per request: what a refresh costs the machine,
// and far steadier than req/s on a shared machine. req/s is reported beside it.
const costRatio = r.cpuUsPerRequest / s.cpuUsPerRequest
const throughputRatio = s.rps / r.rps
printRows(`Refresh (server: taskset -c 0; autocannon ${CONNECTIONS} connections and redis-server: ${clientPinning}; ${ROUNDS} rounds of ${DURATION_SEC} s, medians)`, [
  {
    row: '3 refresh cost (server CPU per request) vs sign-only',
    figure: `${fmt(r.cpuUsPerRequest)} us, ${fmt(r.sysUsPerRequest)} of it kernel (sign-only ${fmt(s.cpuUsPerRequest)} us, ${fmt(s.sysUsPerRequest)} kernel)`,
    target: `<= ${TARGET_COST_RATIO}x sign-only`,
    ratio: `${fmt(costRatio)}x`,
    met: costRatio <= TARGET_COST_RATIO && r.failures === 0,
  },
  {
    row: '3 refresh throughput vs sign-only',
    figure: `${fmt(r.rps)} req/s (sign-only ${fmt(s.rps)} req/s)`,
    target: `<= ${TARGET_COST_RATIO}x sign-only`,
    ratio: `${fmt(throughputRatio)}x (sign-only req/s / refresh req/s)`,
    met: throughputRatio <= TARGET_COST_RATIO && r.failures === 0,
  },
  { row: '3 refresh p99 vs sign-only', figure: `${fmt(r.p99Ms)} ms (sign-only ${fmt(s.p99Ms)} ms)`, target: `<= ${TARGET_COST_RATIO}x`, ratio: `${fmt(r.p99Ms / s.p99Ms)}x`, met: r.p99Ms / s.p99Ms <= TARGET_COST_RATIO },
  { row: '3 Redis commands per refresh', figure: `${fmt(commandsPerRefresh)} (${commandNames})`, target: '1 script call', met: commandsPerRefresh <= 1.05 },
])
