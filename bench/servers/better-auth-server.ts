// The peer under test: better-auth (email and password, bearer plugin,
// @better-auth/redis-storage as secondary storage, PostgreSQL through
// node-postgres), on a plain node:http server, run as its own pinned process.
//   /api/auth/*       better-auth's own routes (sign-in/email, revoke-sessions, ...)
//   GET /bench/protected  auth.api.getSession() from the Bearer header: the
//                     route a service would protect (a session lookup in Redis)
// Args: --redis <url> --database <url> [--users <n>]. Prints READY {url, emails}.
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { redisStorage } from '@better-auth/redis-storage'
import { betterAuth } from 'better-auth'
import { getMigrations } from 'better-auth/db/migration'
import { fromNodeHeaders, toNodeHandler } from 'better-auth/node'
import { bearer } from 'better-auth/plugins'
import { Redis } from 'ioredis'
import pg from 'pg'
import { BENCH_PASSWORD } from '../lib/auth-server.js'
import { announceReady } from '../lib/processes.js'

const { values } = parseArgs({ options: { redis: { type: 'string' }, database: { type: 'string' }, users: { type: 'string', default: '0' } } })
if (!values.redis || !values.database) throw new TypeError('--redis and --database are required')

const schema = `bench_ba_${randomBytes(6).toString('hex')}`
const admin = new pg.Client({ connectionString: values.database })
await admin.connect()
await admin.query(`CREATE SCHEMA ${schema}`)
await admin.end()

const pool = new pg.Pool({ connectionString: values.database, options: `-c search_path=${schema}`, max: 20 })
const redis = new Redis(values.redis, { lazyConnect: false })
const server = createServer()
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

const auth = betterAuth({
  baseURL: url,
  secret: randomBytes(32).toString('hex'),
  database: pool,
  secondaryStorage: redisStorage({ client: redis, keyPrefix: 'better-auth:' }),
  emailAndPassword: { enabled: true },
  plugins: [bearer()],
  // The load generator is one client address with no Origin header: limits and CSRF checks would measure themselves.
  rateLimit: { enabled: false },
  advanced: { disableCSRFCheck: true },
  logger: { disabled: true },
})
const { runMigrations } = await getMigrations(auth.options)
await runMigrations()

const handle = toNodeHandler(auth)
server.on('request', (req, res) => {
  if (req.url?.startsWith('/api/auth/')) return void handle(req, res)
  if (req.url === '/bench/protected') {
    auth.api.getSession({ headers: fromNodeHeaders(req.headers) }).then(
      (session) => {
        res.writeHead(session ? 200 : 401, { 'content-type': 'application/json' })
        res.end(JSON.stringify(session ? { user_id: session.user.id } : { error: 'unauthenticated' }))
      },
      () => {
        res.writeHead(503).end()
      },
    )
    return
  }
  res.writeHead(404).end()
})

const emails: string[] = []
for (let i = 0; i < Number(values.users); i++) {
  const email = `bench-${i}@example.com`
  await auth.api.signUpEmail({ body: { email, password: BENCH_PASSWORD, name: `bench ${i}` } })
  emails.push(email)
}

announceReady({ url, emails }, async () => {
  await new Promise((resolve) => server.close(resolve))
  await pool.end()
  redis.disconnect()
  const c = new pg.Client({ connectionString: values.database })
  await c.connect()
  await c.query(`DROP SCHEMA ${schema} CASCADE`)
  await c.end()
})
