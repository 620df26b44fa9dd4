// Tessera's auth server against better-auth, the peer users would pick
// instead, on the same three routes, each server pinned to the server core:
//   protected route  Tessera: strict check (one EVALSHA_RO) through the server's own hook;
//                    better-auth: getSession() from the Bearer token (bearer plugin,
//                    session in @better-auth/redis-storage)
//   sign-in          Tessera: argon2id in its niced hashing process; better-auth: its scrypt default
//   revoke-all       Tessera: POST /auth/logout-all; better-auth: POST /api/auth/revoke-sessions
// Run: node --conditions=tessera-source --import tsx bench/peer-better-auth.ts [--smoke]
import { startPrivateRedis } from '../test/support/redis.js'
import { BENCH_DATABASE_URL, BENCH_PASSWORD, startAuthServer } from './lib/auth-server.js'
import { medianOfRounds, runLoad, type LoadFigures } from './lib/load.js'
import { LOAD_CORE, pinProcess, pinSelfToLoadCore, SERVER_CORE, startNodeChild } from './lib/processes.js'
import { bearerRequests } from './lib/refresh-load.js'
import { isSmoke, printRows, type BenchRow } from './lib/report.js'
import { fmt, median, percentile } from './lib/stats.js'

const smoke = isSmoke()
const ROUNDS = smoke ? 1 : 3
const SECONDS = smoke ? 1 : 5
const USERS = smoke ? 4 : 20
const SESSIONS_PER_USER = smoke ? 2 : 10
const CONNECTIONS = 100

/** What the driver needs of either server. */
interface Peer {
  name: string
  url: string
  pid: number
  emails: string[]
  /** Signs in; returns the bearer token, or null when the sign-in was refused. */
  signIn(email: string): Promise<string | null>
  /** Ends every session of the token's user. */
  revokeAll(token: string): Promise<void>
  stop(): Promise<void>
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) })
}

async function tessera(redisUrl: string): Promise<Peer> {
  const server = await startAuthServer({ redisUrl, users: USERS })
  return {
    name: 'Tessera',
    url: server.url,
    pid: server.pid,
    emails: server.emails,
    async signIn(email) {
      const res = await post(`${server.url}/auth/login`, { email, password: BENCH_PASSWORD })
      return res.ok ? ((await res.json()) as { access_token: string }).access_token : (await res.arrayBuffer(), null)
    },
    async revokeAll(token) {
      const res = await post(`${server.url}/auth/logout-all`, {}, { authorization: `Bearer ${token}` })
      if (!res.ok) throw new Error(`Tessera logout-all: ${res.status}`)
      await res.arrayBuffer()
    },
    stop: () => server.stop(),
  }
}

async function betterAuth(redisUrl: string): Promise<Peer> {
  const child = await startNodeChild(
    new URL('./servers/better-auth-server.ts', import.meta.url).pathname,
    ['--redis', redisUrl, '--database', BENCH_DATABASE_URL, '--users', String(USERS)],
    { core: SERVER_CORE, timeoutMs: 120_000, nodeArgs: [], env: process.env },
  )
  const url = String(child.ready.url)
  return {
    name: 'better-auth',
    url,
    pid: child.pid,
    emails: child.ready.emails as string[],
    async signIn(email) {
      const res = await post(`${url}/api/auth/sign-in/email`, { email, password: BENCH_PASSWORD })
      await res.arrayBuffer()
      return res.ok ? res.headers.get('set-auth-token') : null
    },
    async revokeAll(token) {
      const res = await post(`${url}/api/auth/revoke-sessions`, {}, { authorization: `Bearer ${token}` })
      if (!res.ok) throw new Error(`better-auth revoke-sessions: ${res.status}`)
      await res.arrayBuffer()
    },
    stop: () => child.stop(),
  }
}

interface PeerFigures {
  protectedRoute: LoadFigures
  signInsPerSecond: number
  signInFailures: number
  revokeAllMs: number[]
}

/** Sign-ins from every user at once, for `seconds`; returns completed sign-ins per second. */
async function signInStorm(peer: Peer, seconds: number): Promise<{ perSecond: number; failures: number }> {
  const until = performance.now() + seconds * 1000
  let done = 0
  let failures = 0
  const started = performance.now()
  await Promise.all(peer.emails.map(async (email) => {
    while (performance.now() < until) {
      if (await peer.signIn(email)) done++
      else failures++
    }
  }))
  return { perSecond: done / ((performance.now() - started) / 1000), failures }
}

async function measure(peer: Peer): Promise<PeerFigures> {
  // Bearer tokens for the protected route: real sign-ins on both sides, so each token has its own session.
  const tokens: string[] = []
  for (let round = 0; round < SESSIONS_PER_USER; round++) {
    for (const email of peer.emails) {
      const token = await peer.signIn(email)
      if (!token) throw new Error(`${peer.name}: sign-in refused while preparing tokens`)
      tokens.push(token)
    }
  }
  const load = { url: peer.url, connections: CONNECTIONS, requests: bearerRequests('/bench/protected', tokens), serverPid: peer.pid }
  await runLoad({ ...load, duration: 1 })
  const rounds: LoadFigures[] = []
  for (let round = 0; round < ROUNDS; round++) rounds.push(await runLoad({ ...load, duration: SECONDS }))
  await signInStorm(peer, 1)
  const storm = await signInStorm(peer, SECONDS)
  // Revoke-all of a user with SESSIONS_PER_USER live sessions, one user at a time.
  const revokeAllMs: number[] = []
  for (const email of peer.emails) {
    let last = ''
    for (let i = 0; i < SESSIONS_PER_USER; i++) last = (await peer.signIn(email)) ?? last
    const started = performance.now()
    await peer.revokeAll(last)
    revokeAllMs.push(performance.now() - started)
  }
  return { protectedRoute: medianOfRounds(rounds), signInsPerSecond: storm.perSecond, signInFailures: storm.failures, revokeAllMs }
}

const clientPinning = pinSelfToLoadCore()
const figures = new Map<string, PeerFigures>()
for (const start of [tessera, betterAuth]) {
  const redis = await startPrivateRedis()
  pinProcess(redis.pid, LOAD_CORE)
  let peer: Peer | null = null
  try {
    peer = await start(redis.url)
    figures.set(peer.name, await measure(peer))
    const f = figures.get(peer.name)!
    console.log(`${peer.name}: protected ${fmt(f.protectedRoute.rps)} req/s p99 ${f.protectedRoute.p99Ms} ms, ${fmt(f.protectedRoute.cpuUsPerRequest)} us CPU/req; sign-in ${fmt(f.signInsPerSecond)}/s; revoke-all median ${fmt(median(f.revokeAllMs))} ms`)
  } finally {
    await peer?.stop()
    await redis.stop()
  }
}

const ours = figures.get('Tessera')!
const theirs = figures.get('better-auth')!
const rows: BenchRow[] = [
  {
    row: 'peer protected route (Tessera strict vs better-auth getSession)',
    figure: `${fmt(ours.protectedRoute.rps)} vs ${fmt(theirs.protectedRoute.rps)} req/s; p99 ${fmt(ours.protectedRoute.p99Ms)} vs ${fmt(theirs.protectedRoute.p99Ms)} ms; CPU ${fmt(ours.protectedRoute.cpuUsPerRequest)} vs ${fmt(theirs.protectedRoute.cpuUsPerRequest)} us/req`,
    target: 'report',
    ratio: `${fmt(ours.protectedRoute.rps / theirs.protectedRoute.rps)}x (by CPU ${fmt(theirs.protectedRoute.cpuUsPerRequest / ours.protectedRoute.cpuUsPerRequest)}x)`,
    met: null,
    note: `${ours.protectedRoute.failures + theirs.protectedRoute.failures} failed responses`,
  },
  {
    row: 'peer sign-in (Tessera argon2id m=19 MiB t=2 vs better-auth scrypt default)',
    figure: `${fmt(ours.signInsPerSecond)} vs ${fmt(theirs.signInsPerSecond)} sign-ins/s (${USERS} at once)`,
    target: 'report',
    ratio: `${fmt(ours.signInsPerSecond / theirs.signInsPerSecond)}x`,
    met: null,
    note: `${ours.signInFailures + theirs.signInFailures} refused`,
  },
  {
    row: `peer revoke-all of a user with ${SESSIONS_PER_USER} sessions`,
    figure: `median ${fmt(median(ours.revokeAllMs))} vs ${fmt(median(theirs.revokeAllMs))} ms, p99 ${fmt(percentile(ours.revokeAllMs, 99))} vs ${fmt(percentile(theirs.revokeAllMs, 99))} ms`,
    target: 'report',
    ratio: `${fmt(median(theirs.revokeAllMs) / median(ours.revokeAllMs))}x faster`,
    met: null,
  },
]
printRows(`Peer: better-auth (servers: taskset -c ${SERVER_CORE}; load: ${clientPinning}; ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s)`, rows)
