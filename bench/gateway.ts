// The forward-auth gateway (issue 11 figures), everything on the edge pinned to
// the server core, the load generator and redis-server to the other:
//   - requests/s through NGINX with auth_request to the gateway (the config of
//     docs/gateway.md), against NGINX proxying the same upstream with no auth
//     (target: at least 0.5x), and against NGINX asking a gateway that calls the
//     auth server's introspection on every request. The upstream is a static
//     NGINX server, so the auth step's cost is not hidden behind a slow service.
//   - the floor: NGINX asking a node:http service that verifies nothing (same
//     config), against NGINX with no auth: the most any Node service in the
//     auth_request path reaches here, so what is left of G1 once the gateway's
//     own work is taken away.
//   - propagation to the gateway: from the revoke call's return (POST
//     /auth/logout on the auth server) to NGINX refusing the token, over N
//     revocations, polled with back-to-back requests (p50/p99/max; target p99 <= 5 ms).
// Run: node --conditions=tessera-source --import tsx bench/gateway.ts [--smoke] [--revocations 1000]
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { documentedNginxConfig, startNginx, type TestNginx } from '../test/support/nginx.js'
import { startPrivateRedis } from '../test/support/redis.js'
import { BENCH_INTROSPECTION_CLIENT, startAuthServer } from './lib/auth-server.js'
import { medianOfRounds, runLoad, type LoadFigures } from './lib/load.js'
import { pinProcess, pinSelfToLoadCore, LOAD_CORE, SERVER_CORE, startNodeChild, type BenchChild } from './lib/processes.js'
import { isSmoke, printRows } from './lib/report.js'
import { fmt, percentile } from './lib/stats.js'

const smoke = isSmoke()
const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`)
  return at > 0 ? Number(process.argv[at + 1]) : fallback
}
const ROUNDS = smoke ? 1 : 3
const DURATION_SEC = smoke ? 1 : 5
const CONNECTIONS = 50
const REVOCATIONS = arg('revocations', smoke ? 20 : 1000)
const TARGET_RATIO = 0.5
const TARGET_PROPAGATION_P99_MS = 5
const ISSUER = 'https://auth.bench'
const AUDIENCE = 'api'

/** NGINX and every process it starts (its worker) on `core`. */
function pinNginx(nginx: TestNginx, core: number): void {
  pinProcess(nginx.pid, core)
  let children = ''
  try {
    children = readFileSync(`/proc/${nginx.pid}/task/${nginx.pid}/children`, 'utf8').trim()
  } catch {
    // A kernel without /proc/<pid>/task/<tid>/children: the worker stays unpinned.
  }
  for (const pid of children.split(/\s+/).filter(Boolean)) pinProcess(Number(pid), core)
}

async function startEdgeNginx(httpBlock: string): Promise<TestNginx> {
  const nginx = await startNginx(httpBlock)
  pinNginx(nginx, SERVER_CORE)
  return nginx
}

const clientPinning = pinSelfToLoadCore()
const redis = await startPrivateRedis()
pinProcess(redis.pid, LOAD_CORE)
const started: { stop(): Promise<void> }[] = []
const noAuth: LoadFigures[] = []
const gated: LoadFigures[] = []
const introspected: LoadFigures[] = []
const floor: LoadFigures[] = []
const propagationMs: number[] = []
/** One request through NGINX and the gateway, timed the same way: what each propagation figure includes at least once. */
const requestMs: number[] = []
let refusedLive = 0
/** Requests through the edge until the refusal, per revocation (1: the first request after the revoke's return was refused). */
const pollsToRefusal: number[] = []
try {
  const server = await startAuthServer({ redisUrl: redis.url })
  started.push(server)
  const upstream = await startEdgeNginx(`server { listen 127.0.0.1:LISTEN_PORT; location / { default_type application/json; return 200 '{"ok":true}'; } }`)
  started.push(upstream)
  const gateway: BenchChild = await startNodeChild(fileURLToPath(new URL('./servers/gateway-server.ts', import.meta.url)), [], {
    core: SERVER_CORE,
    timeoutMs: 60_000,
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      REDIS_URL: redis.url,
      TESSERA_REDIS_PREFIX: 'tessera:',
      TESSERA_ISSUER: ISSUER,
      TESSERA_AUDIENCE: AUDIENCE,
      TESSERA_ALGORITHMS: 'ES256',
      TESSERA_JWKS_URL: `${server.url}/.well-known/jwks.json`,
      TESSERA_ISSUER_METADATA_URL: `${server.url}/.well-known/oauth-authorization-server`,
      TESSERA_GATEWAY_PORT: '0',
    },
  })
  started.push(gateway)
  const introspecting: BenchChild = await startNodeChild(
    fileURLToPath(new URL('./servers/introspection-gateway.ts', import.meta.url)),
    ['--auth', server.url, '--client', `${BENCH_INTROSPECTION_CLIENT.id}:${BENCH_INTROSPECTION_CLIENT.secret}`],
    { core: SERVER_CORE },
  )
  started.push(introspecting)
  const floorService: BenchChild = await startNodeChild(fileURLToPath(new URL('./servers/floor-forward-auth.ts', import.meta.url)), [], { core: SERVER_CORE })
  started.push(floorService)
  const portOf = (child: BenchChild) => Number(new URL(String(child.ready.url)).port)
  // The same upstream keepalive as docs/gateway.md's config, so both edges reach the upstream alike.
  const plain = await startEdgeNginx(`upstream app { server 127.0.0.1:${upstream.port}; keepalive 128; }
server {
    listen 127.0.0.1:LISTEN_PORT;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
}`)
  started.push(plain)
  const viaGateway = await startEdgeNginx(documentedNginxConfig(portOf(gateway), upstream.port))
  started.push(viaGateway)
  const viaIntrospection = await startEdgeNginx(documentedNginxConfig(portOf(introspecting), upstream.port))
  started.push(viaIntrospection)
  const viaFloor = await startEdgeNginx(documentedNginxConfig(portOf(floorService), upstream.port))
  started.push(viaFloor)

  const [hot, ...revocable] = await server.createSessions(1 + REVOCATIONS, 'gw-')
  const headers = { authorization: `Bearer ${hot!.access_token}` }
  for (const [name, edge] of [['plain', plain], ['gateway', viaGateway], ['introspection', viaIntrospection], ['floor', viaFloor]] as const) {
    const res = await fetch(`${edge.url}/orders`, { headers })
    if (res.status !== 200) throw new Error(`${name} edge answered ${res.status}: ${await res.text()} ${edge.errors()}`)
  }
  // Warm-up (JIT, keep-alive pools), then interleaved rounds so drift on a shared machine hits all three alike.
  for (const edge of [plain, viaGateway, viaIntrospection, viaFloor]) await runLoad({ url: `${edge.url}/orders`, headers, connections: CONNECTIONS, duration: 1 })
  for (let round = 0; round < ROUNDS; round++) {
    noAuth.push(await runLoad({ url: `${plain.url}/orders`, headers, connections: CONNECTIONS, duration: DURATION_SEC }))
    gated.push(await runLoad({ url: `${viaGateway.url}/orders`, headers, connections: CONNECTIONS, duration: DURATION_SEC, serverPid: gateway.pid }))
    introspected.push(await runLoad({ url: `${viaIntrospection.url}/orders`, headers, connections: CONNECTIONS, duration: DURATION_SEC }))
    floor.push(await runLoad({ url: `${viaFloor.url}/orders`, headers, connections: CONNECTIONS, duration: DURATION_SEC, serverPid: floorService.pid }))
  }

  // Propagation: the token passes the edge, the auth server ends its session, the edge is asked until it refuses.
  for (const tokens of revocable) {
    const auth = { authorization: `Bearer ${tokens.access_token}` }
    const sentAt = performance.now()
    const first = await fetch(`${viaGateway.url}/orders`, { headers: auth })
    await first.arrayBuffer()
    requestMs.push(performance.now() - sentAt)
    if (first.status !== 200) refusedLive++
    const logout = await fetch(`${server.url}/auth/logout`, { method: 'POST', headers: auth })
    await logout.arrayBuffer()
    const returnedAt = performance.now()
    if (logout.status !== 204) throw new Error(`logout answered ${logout.status}`)
    for (let polls = 0; ; polls++) {
      const res = await fetch(`${viaGateway.url}/orders`, { headers: auth })
      await res.arrayBuffer()
      if (res.status === 401) {
        pollsToRefusal.push(polls + 1)
        break
      }
      if (res.status !== 200 || polls > 10_000) throw new Error(`edge answered ${res.status} after ${polls} polls`)
    }
    propagationMs.push(performance.now() - returnedAt)
  }
} finally {
  for (const child of started.reverse()) await child.stop()
  await redis.stop()
}

const n = medianOfRounds(noAuth)
const g = medianOfRounds(gated)
const i = medianOfRounds(introspected)
const f = medianOfRounds(floor)
const ratio = g.rps / n.rps
const p99 = percentile(propagationMs, 99)
printRows(
  `Gateway (NGINX, upstream, gateway and auth server: taskset -c ${SERVER_CORE}; autocannon ${CONNECTIONS} connections and redis-server: ${clientPinning}; ${ROUNDS} rounds of ${DURATION_SEC} s, medians; one hot token)`,
  [
    {
      row: 'G1 NGINX + gateway vs NGINX no auth',
      figure: `${fmt(g.rps)} req/s, p99 ${fmt(g.p99Ms)} ms; gateway CPU ${fmt(g.cpuUsPerRequest)} us/request (no auth ${fmt(n.rps)} req/s, p99 ${fmt(n.p99Ms)} ms)`,
      target: `>= ${TARGET_RATIO}x`,
      ratio: `${fmt(ratio)}x`,
      met: ratio >= TARGET_RATIO && g.failures === 0 && n.failures === 0,
    },
    {
      row: 'G2 NGINX + gateway vs NGINX + introspection per request',
      figure: `${fmt(g.rps)} req/s vs ${fmt(i.rps)} req/s, p99 ${fmt(g.p99Ms)} vs ${fmt(i.p99Ms)} ms`,
      target: 'context',
      ratio: `${fmt(g.rps / i.rps)}x`,
      met: null,
      note: 'introspection: a Node forward-auth service that POSTs /oauth2/introspect (strict check in the auth server) per request',
    },
    {
      row: 'G1 floor: NGINX + a node:http service that verifies nothing vs NGINX no auth',
      figure: `${fmt(f.rps)} req/s, p99 ${fmt(f.p99Ms)} ms; service CPU ${fmt(f.cpuUsPerRequest)} us/request`,
      target: 'context',
      ratio: `${fmt(f.rps / n.rps)}x`,
      met: null,
      note: `the most any Node service in the auth_request path reaches on this machine; the gateway reaches ${fmt(g.rps / f.rps)}x of it`,
    },
    {
      row: 'G3 propagation to the gateway (revoke returned -> NGINX refuses)',
      figure: `p50 ${fmt(percentile(propagationMs, 50))} ms, p99 ${fmt(p99)} ms, max ${fmt(Math.max(...propagationMs))} ms over ${propagationMs.length} revocations`,
      target: `p99 <= ${TARGET_PROPAGATION_P99_MS} ms`,
      met: p99 <= TARGET_PROPAGATION_P99_MS && refusedLive === 0,
      note: `polled with back-to-back requests through NGINX, so an upper bound that includes at least one request (one request through the edge, same timing: p50 ${fmt(percentile(requestMs, 50))} ms, p99 ${fmt(percentile(requestMs, 99))} ms); requests until the refusal: median ${percentile(pollsToRefusal, 50)}, p99 ${percentile(pollsToRefusal, 99)}, max ${Math.max(...pollsToRefusal)} (1: the first request after the revoke's return was refused); live tokens refused before revocation: ${refusedLive}`,
    },
  ],
)
