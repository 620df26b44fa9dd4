// The auth server under test, run as its own (pinned) process: buildApp() over
// a Redis session store and PostgreSQL users, plus three bench-only routes:
//   POST /bench/sign       signs one access token (the refresh baseline)
//   GET  /bench/protected  strict verification through the server's own hook (the Fastify adapter, config: { tessera: true })
//   GET  /bench/protected-verifier  strict verification through src/verifier
//                          (node:crypto, synchronous signature check)
//   POST /bench/sessions   creates sessions directly, so the load generator
//                          gets tokens without paying argon2 for each
//                          (DPoP-bound ones when it sends a proof per session)
// Args: --redis <url> --database <url> [--users <n>]. Prints READY {port}.
import { randomBytes } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { createTessera, issueAccessToken, newTokenId, SigningKeySet } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { buildApp, configurePasswordHashing, hashPassword, type Mailer, openPostgresUserStore } from '@tessera/server'
import { BENCH_DPOP_SIGN_IN_URL, BENCH_INTROSPECTION_CLIENT, BENCH_PASSWORD } from '../lib/auth-server.js'
import { createVerifier } from '@tessera/verifier'
import { announceReady } from '../lib/processes.js'

const ISSUER = 'https://auth.bench'
const AUDIENCE = 'api'

const { values } = parseArgs({ options: { redis: { type: 'string' }, database: { type: 'string' }, users: { type: 'string', default: '0' } } })
if (!values.redis || !values.database) throw new TypeError('--redis and --database are required')

const schema = `bench_${randomBytes(6).toString('hex')}`
const admin = new pg.Client({ connectionString: values.database })
await admin.connect()
await admin.query(`CREATE SCHEMA ${schema}`)
await admin.end()

// No route under test sends mail.
const droppingMailer: Mailer = { kind: 'outbox', send: async () => {}, close: async () => {} }

const keys = await SigningKeySet.generate({ alg: 'ES256' })
const store = await RedisSessionStore.connect({ url: values.redis, keyPrefix: 'tessera:' })
const auth = await createTessera({ store, keys, issuer: ISSUER, audience: AUDIENCE, tokenKey: randomBytes(32) })
const users = await openPostgresUserStore({ url: values.database, schema, maxConnections: 20 })
const unlimited = { max: 1_000_000_000, windowSeconds: 60 }
const app = await buildApp({
  auth,
  users,
  mailer: droppingMailer,
  webDir: null,
  // The load generator is one IP: the limits would measure the limiter, not the route.
  rateLimits: { loginPerIp: unlimited, loginPerAccount: unlimited, refreshPerIp: unlimited, sensitivePerIp: unlimited },
  // The introspecting gateway of bench/gateway.ts (RFC 7662 needs a client).
  clients: new Map([[BENCH_INTROSPECTION_CLIENT.id, BENCH_INTROSPECTION_CLIENT.secret]]),
})

// Same body shape and validation as /auth/refresh, then only the signing step.
app.post('/bench/sign', { schema: { body: { type: 'object', properties: { refresh_token: { type: 'string', maxLength: 1024 } } } } }, async () => {
  const { token, expiresAt } = await issueAccessToken(keys, {
    userId: 'bench',
    sessionId: 'bench',
    tokenId: newTokenId(),
    nowMs: Date.now(),
    ttlSeconds: 900,
    issuer: ISSUER,
    audience: AUDIENCE,
  })
  return { access_token: token, token_type: 'Bearer', expires_in: Math.round((expiresAt - Date.now()) / 1000) }
})
app.get('/bench/protected', { config: { tessera: true } }, async (request) => ({ user_id: request.auth?.userId }))
const verifier = await createVerifier({ mode: 'strict', keys, issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], store })
app.get('/bench/protected-verifier', async (request) => {
  const header = request.headers.authorization ?? ''
  const claims = await verifier.verify(header.slice('Bearer '.length))
  return { user_id: claims.userId }
})
// BENCH_LOOP_DELAY=<ms>: GET /bench/loop-delay gives the event loop's delays (sampled every <ms>) since the last call.
// Off by default: the sampling timer wakes the server, which is itself a cost beside a SCHED_IDLE hash.
const loopDelay = process.env.BENCH_LOOP_DELAY ? monitorEventLoopDelay({ resolution: Number(process.env.BENCH_LOOP_DELAY) }) : null
loopDelay?.enable()
app.get('/bench/loop-delay', async () => {
  if (!loopDelay) return { enabled: false }
  const ms = (ns: number) => Math.round(ns / 1e4) / 100
  const figures = { enabled: true, max_ms: ms(loopDelay.max), p99_ms: ms(loopDelay.percentile(99)), mean_ms: ms(loopDelay.mean), count: loopDelay.count }
  loopDelay.reset()
  return figures
})
// With `dpop_proofs` (one per session, for POST BENCH_DPOP_SIGN_IN_URL) each session is bound to its proof's key, as a sign-in with that proof would bind it.
app.post<{ Body: { count: number; user_prefix: string; dpop_proofs?: string[] } }>('/bench/sessions', async (request) => {
  const tokens = []
  for (let i = 0; i < request.body.count; i++) {
    const proof = request.body.dpop_proofs?.[i]
    const dpop = proof === undefined ? {} : { dpop: { proof, method: 'POST', url: BENCH_DPOP_SIGN_IN_URL } }
    const s = await auth.createSession({ userId: `${request.body.user_prefix}${i}`, device: { userAgent: 'bench' }, ...dpop })
    tokens.push({ access_token: s.accessToken, refresh_token: s.refreshToken })
  }
  return tokens
})

// As the server does at start; the pool inherits this process's pinning, so hashing shares the server's core.
configurePasswordHashing({ nice: Number(process.env.BENCH_HASHING_NICE ?? 10), ...(process.env.BENCH_HASHING_PRIORITY ? { priority: process.env.BENCH_HASHING_PRIORITY as 'idle' | 'nice' } : {}) }).warm()
const emails: string[] = []
const passwordHash = await hashPassword(BENCH_PASSWORD)
for (let i = 0; i < Number(values.users); i++) {
  const email = `bench-${i}@example.com`
  await users.createUser({ email, passwordHash })
  emails.push(email)
}

const address = await app.listen({ host: '127.0.0.1', port: 0 })
announceReady({ url: address, emails }, async () => {
  await app.close()
  await verifier.close()
  await auth.close()
  await store.close()
  await users.close()
  const c = new pg.Client({ connectionString: values.database })
  await c.connect()
  await c.query(`DROP SCHEMA ${schema} CASCADE`)
  await c.end()
})
