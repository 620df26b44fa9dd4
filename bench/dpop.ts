// DPoP figures (issue 15). 1) A protected route behind the verifier's Fastify
// adapter (bench/protected-server.ts) in cached and in strict mode, called with
// DPoP-bound tokens and a proof on every request against the same route with
// bearer tokens. 2) POST /auth/refresh of the auth server with DPoP-bound
// sessions and a proof on every refresh against refresh without DPoP.
//
// Fairness: every request carries a fresh proof (its own `jti`, the `ath` of
// its token, an `iat` of the last few seconds), each used once. The proofs are
// made on the load generator's core just before each timed window, so during
// the window the load generator only picks a prepared header, as it does for
// bearer tokens: the measured difference is the server's work (one signature
// check and one replay-cache write in Redis per proof). Each window is a fixed
// count of requests (autocannon `amount`), the same for both sides, so there is
// a proof for each and none is left over. Server CPU per request comes from
// /proc and is the steadier figure on a shared machine.
//
// Servers: taskset -c 0; this driver (autocannon) and a private redis-server:
// taskset -c 1. Run: node --conditions=tessera-source --import tsx bench/dpop.ts [--smoke]
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import type { AutocannonRequest } from 'autocannon'
import { createTessera, SigningKeySet } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { startPrivateRedis } from '../test/support/redis.js'
import { BENCH_DPOP_SIGN_IN_URL, startAuthServer, type AuthServer } from './lib/auth-server.js'
import { dpopProof, newDpopKeys, type BenchDpopKey } from './lib/dpop-proofs.js'
import { medianOfRounds, runLoad, type LoadFigures } from './lib/load.js'
import { LOAD_CORE, pinProcess, pinSelfToLoadCore, SERVER_CORE, startNodeChild, type BenchChild } from './lib/processes.js'
import { bearerRequests, refreshRequests, topUpRefreshPool } from './lib/refresh-load.js'
import { isSmoke, printRows, type BenchRow } from './lib/report.js'
import { fmt } from './lib/stats.js'

const smoke = isSmoke()
const ROUNDS = smoke ? 1 : 3
/** Requests per timed window on the protected route, and per refresh window. */
const ROUTE_REQUESTS = smoke ? 500 : 10_000
const REFRESH_REQUESTS = smoke ? 400 : 4_000
/** Distinct live sessions (and DPoP keys) in rotation on the protected route. */
const SESSIONS = smoke ? 50 : 1_000
const CONNECTIONS = 100
/** Refresh chains kept alive at once (two or more per connection, as bench/refresh.ts). */
const REFRESH_POOL = CONNECTIONS * 3
const ROUTE_TARGET = 0.5
const ISSUER = 'https://auth.bench'
const AUDIENCE = 'api'
const PREFIX = `bench:dpop:${randomBytes(4).toString('hex')}:`

// ---------------------------------------------------------------- protected route

// The verifier keeps tokens it has verified (by their text), so a bearer token seen before costs no signature
// check, while a proof is new on every request and always costs one. The target's premise ("a proof is one
// extra signature check") holds against a verifier that checks every token's signature: the third server.
const ROUTE_MODES = ['cached', 'strict', 'uncached'] as const
type RouteMode = (typeof ROUTE_MODES)[number]
const ROUTE_LABEL: Record<RouteMode, string> = { cached: 'cached mode', strict: 'strict mode', uncached: 'cached mode with the verified-token cache off (a signature check per token)' }

interface BoundSession {
  accessToken: string
  key: BenchDpopKey
}

/** `amount` requests for GET /hello, each with its own proof, made now (before the window). */
function dpopRouteRequests(baseUrl: string, sessions: readonly BoundSession[], amount: number): AutocannonRequest[] {
  const headers = Array.from({ length: amount }, (_, i) => {
    const { accessToken, key } = sessions[i % sessions.length]!
    return { authorization: `DPoP ${accessToken}`, dpop: dpopProof(key, 'GET', `${baseUrl}/hello`, accessToken) }
  })
  let next = 0
  // Past `amount` a proof would repeat and be refused as a replay: it would show as a failure, not pass unseen.
  return [{ method: 'GET', path: '/hello', setupRequest: (request) => ({ ...request, headers: headers[next++ % amount]! }) }]
}

async function measureRoute(): Promise<BenchRow[]> {
  const keys = await SigningKeySet.generate({ alg: 'ES256' })
  const store = await RedisSessionStore.connect({ url: redis.url, keyPrefix: PREFIX })
  const servers: { mode: RouteMode; child: BenchChild }[] = []
  try {
    const tessera = await createTessera({ store, keys, issuer: ISSUER, audience: AUDIENCE, tokenKey: randomBytes(32), maxSessions: 60 })
    const bearer: string[] = []
    const bound: BoundSession[] = []
    const dpopKeys = newDpopKeys(SESSIONS)
    for (let i = 0; i < SESSIONS; i++) {
      bearer.push((await tessera.createSession({ userId: `bearer-${i % 200}` })).accessToken)
      const key = dpopKeys[i]!
      const signIn = { proof: dpopProof(key, 'POST', BENCH_DPOP_SIGN_IN_URL), method: 'POST', url: BENCH_DPOP_SIGN_IN_URL }
      const session = await tessera.createSession({ userId: `dpop-${i % 200}`, dpop: signIn })
      if (session.tokenType !== 'DPoP') throw new Error('the bench session was not bound')
      bound.push({ accessToken: session.accessToken, key })
    }
    const env = { ...process.env, BENCH_KEYS: JSON.stringify(keys.toJSON()), BENCH_REDIS_URL: redis.url, BENCH_PREFIX: PREFIX, BENCH_ISSUER: ISSUER, BENCH_AUDIENCE: AUDIENCE }
    const script = fileURLToPath(new URL('./protected-server.ts', import.meta.url))
    for (const mode of ROUTE_MODES) {
      const uncached = mode === 'uncached'
      servers.push({ mode, child: await startNodeChild(script, [uncached ? 'cached' : mode], { core: SERVER_CORE, env: { ...env, ...(uncached ? { BENCH_VERIFY_CACHE: 'off' } : {}) } }) })
    }

    const run = async (child: BenchChild, kind: 'bearer' | 'dpop', amount: number, measured: boolean): Promise<LoadFigures> => {
      const url = String(child.ready.url)
      const requests = kind === 'bearer' ? bearerRequests('/hello', bearer) : dpopRouteRequests(url, bound, amount)
      return runLoad({ ...(measured ? { serverPid: child.pid } : {}), url, connections: CONNECTIONS, amount, requests })
    }
    // Warm-up: JIT, connections, and every token once through the verification caches.
    for (const { child } of servers) for (const kind of ['bearer', 'dpop'] as const) await run(child, kind, SESSIONS + 1_000, false)

    const variants = servers.flatMap(({ mode, child }) => (['bearer', 'dpop'] as const).map((kind) => ({ mode, kind, child, rounds: [] as LoadFigures[] })))
    for (let round = 0; round < ROUNDS; round++) {
      // Rotated order, so no variant always follows the same neighbour.
      for (let v = 0; v < variants.length; v++) {
        const variant = variants[(v + round) % variants.length]!
        const r = await run(variant.child, variant.kind, ROUTE_REQUESTS, true)
        variant.rounds.push(r)
        console.log(`round ${round + 1} ${variant.mode} ${variant.kind}: ${fmt(r.rps)} req/s p99 ${r.p99Ms} ms ${fmt(r.cpuUsPerRequest)} us CPU/req, ${r.failures} failures`)
      }
    }
    const rows: BenchRow[] = []
    for (const mode of ROUTE_MODES) {
      const b = medianOfRounds(variants.find((v) => v.mode === mode && v.kind === 'bearer')!.rounds)
      const d = medianOfRounds(variants.find((v) => v.mode === mode && v.kind === 'dpop')!.rounds)
      const clean = b.failures === 0 && d.failures === 0
      const throughput = d.rps / b.rps
      const capacity = b.cpuUsPerRequest / d.cpuUsPerRequest
      rows.push(
        {
          row: `15 DPoP protected route, ${ROUTE_LABEL[mode]} vs bearer (req/s)`,
          figure: `${fmt(d.rps)} req/s, p99 ${fmt(d.p99Ms)} ms (bearer ${fmt(b.rps)} req/s, p99 ${fmt(b.p99Ms)} ms)`,
          target: `>= ${ROUTE_TARGET}x bearer`,
          ratio: `${fmt(throughput)}x`,
          met: throughput >= ROUTE_TARGET && clean,
        },
        {
          row: `15 DPoP protected route, ${ROUTE_LABEL[mode]} vs bearer (capacity by server CPU)`,
          figure: `${fmt(d.cpuUsPerRequest)} us CPU/req (bearer ${fmt(b.cpuUsPerRequest)} us); ${d.failures + b.failures} failures`,
          target: `>= ${ROUTE_TARGET}x bearer`,
          ratio: `${fmt(capacity)}x`,
          met: capacity >= ROUTE_TARGET && clean,
        },
      )
    }
    return rows
  } finally {
    for (const { child } of servers) await child.stop()
    await store.close()
  }
}

// ---------------------------------------------------------------- refresh

interface BoundRefresh {
  refreshToken: string
  key: BenchDpopKey
}

/**
 * Refreshes of DPoP-bound sessions, keeping the chains alive as
 * {@link refreshRequests} does. Each key has a stack of proofs made before the
 * window; the rotated token goes back to the pool with its key, found by the
 * new access token's `cnf.jkt`. A key whose stack runs dry signs during the
 * window, and `late` counts those.
 */
function dpopRefreshRequests(pool: BoundRefresh[], proofs: Map<BenchDpopKey, string[]>, byThumbprint: Map<string, BenchDpopKey>, refreshUrl: string, late: { count: number }): AutocannonRequest[] {
  return [
    {
      method: 'POST',
      path: '/auth/refresh',
      setupRequest(request) {
        const item = pool.shift()
        if (item === undefined) throw new Error('refresh token pool ran dry: start with more tokens than connections')
        let proof = proofs.get(item.key)?.pop()
        if (proof === undefined) {
          late.count++
          proof = dpopProof(item.key, 'POST', refreshUrl)
        }
        return { ...request, headers: { 'content-type': 'application/json', dpop: proof }, body: JSON.stringify({ refresh_token: item.refreshToken }) }
      },
      onResponse(status, body) {
        if (status !== 200) return
        const reply = JSON.parse(body) as { access_token: string; refresh_token: string }
        const claims = JSON.parse(Buffer.from(reply.access_token.split('.')[1]!, 'base64url').toString()) as { cnf?: { jkt?: string } }
        const key = byThumbprint.get(claims.cnf?.jkt ?? '')
        if (key) pool.push({ refreshToken: reply.refresh_token, key })
      },
    },
  ]
}

async function boundPool(server: AuthServer, size: number, label: string): Promise<BoundRefresh[]> {
  const keys = newDpopKeys(size)
  const tokens = await server.createSessions(size, label, keys.map((key) => dpopProof(key, 'POST', BENCH_DPOP_SIGN_IN_URL)))
  return tokens.map((t, i) => ({ refreshToken: t.refresh_token, key: keys[i]! }))
}

async function measureRefresh(): Promise<BenchRow[]> {
  const server = await startAuthServer({ redisUrl: redis.url })
  try {
    const refreshUrl = `${server.url}/auth/refresh`
    const plain = (await server.createSessions(REFRESH_POOL, 'plain')).map((t) => t.refresh_token)
    const bound = await boundPool(server, REFRESH_POOL, 'bound')
    const byThumbprint = new Map<string, BenchDpopKey>()
    const late = { count: 0 }

    const run = async (kind: 'bearer' | 'dpop', amount: number, measured: boolean): Promise<LoadFigures> => {
      let requests: AutocannonRequest[]
      if (kind === 'bearer') requests = refreshRequests(plain)
      else {
        // A stack per key, deep enough for its share of the window with room for uneven turns.
        const perKey = Math.ceil((amount / bound.length) * 1.5) + 4
        const proofs = new Map(bound.map(({ key }) => [key, Array.from({ length: perKey }, () => dpopProof(key, 'POST', refreshUrl))]))
        for (const { key } of bound) byThumbprint.set(key.thumbprint, key)
        requests = dpopRefreshRequests(bound, proofs, byThumbprint, refreshUrl, late)
      }
      const figures = await runLoad({ ...(measured ? { serverPid: server.pid } : {}), url: server.url, connections: CONNECTIONS, amount, requests })
      // A refused refresh loses its chain: start a new one so every window has the same pool.
      await topUpRefreshPool(server, plain, REFRESH_POOL)
      if (bound.length < REFRESH_POOL) bound.push(...(await boundPool(server, REFRESH_POOL - bound.length, `bound-${Date.now()}-`)))
      return figures
    }
    for (const kind of ['bearer', 'dpop'] as const) await run(kind, 1_000, false)
    late.count = 0
    const rounds = { bearer: [] as LoadFigures[], dpop: [] as LoadFigures[] }
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of round % 2 === 0 ? (['bearer', 'dpop'] as const) : (['dpop', 'bearer'] as const)) {
        const r = await run(kind, REFRESH_REQUESTS, true)
        rounds[kind].push(r)
        console.log(`round ${round + 1} refresh ${kind}: ${fmt(r.rps)} req/s p99 ${r.p99Ms} ms ${fmt(r.cpuUsPerRequest)} us CPU/req, ${r.failures} failures`)
      }
    }
    const b = medianOfRounds(rounds.bearer)
    const d = medianOfRounds(rounds.dpop)
    console.log(`proofs signed during a timed window because a key's stack ran dry: ${late.count}`)
    return [
      {
        row: '15 DPoP refresh vs refresh without (req/s)',
        figure: `${fmt(d.rps)} req/s, p99 ${fmt(d.p99Ms)} ms (without ${fmt(b.rps)} req/s, p99 ${fmt(b.p99Ms)} ms)`,
        target: 'context',
        ratio: `${fmt(d.rps / b.rps)}x`,
        met: null,
      },
      {
        row: '15 DPoP refresh vs refresh without (server CPU per request)',
        figure: `${fmt(d.cpuUsPerRequest)} us (without ${fmt(b.cpuUsPerRequest)} us); ${d.failures + b.failures} failures`,
        target: 'context',
        ratio: `${fmt(d.cpuUsPerRequest / b.cpuUsPerRequest)}x cost`,
        met: null,
      },
    ]
  } finally {
    await server.stop()
  }
}

/**
 * CPU time of one ES256 signature check with node:crypto on this machine (on
 * the load core): the floor of what a proof adds to a request, for reading the
 * ratios (a cached bearer request does no signature check at all).
 */
function es256VerifyUs(): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const input = Buffer.from('x'.repeat(300))
  const signature = sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' })
  const check = () => verify('sha256', input, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)
  for (let i = 0; i < 200; i++) check()
  const count = smoke ? 200 : 3_000
  const before = process.cpuUsage()
  for (let i = 0; i < count; i++) check()
  const used = process.cpuUsage(before)
  return (used.user + used.system) / count
}

const clientPinning = pinSelfToLoadCore()
const redis = await startPrivateRedis()
pinProcess(redis.pid, LOAD_CORE)
let rows: BenchRow[] = []
try {
  rows = [...(await measureRoute()), ...(await measureRefresh())]
  rows.push({ row: '15 DPoP: one ES256 signature check (node:crypto, CPU time, load core)', figure: `${fmt(es256VerifyUs())} us`, target: 'context', met: null })
} finally {
  await redis.stop()
}
printRows(
  `DPoP (servers: taskset -c 0; autocannon ${CONNECTIONS} connections, proofs made before each window, and redis-server: ${clientPinning}; ${ROUNDS} rounds, ${ROUTE_REQUESTS} route / ${REFRESH_REQUESTS} refresh requests each, medians)`,
  rows,
)
