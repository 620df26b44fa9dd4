// Builds a server for tests: real Redis (own key prefix) or the memory store,
// real PostgreSQL (own schema per file), and a mailer that keeps messages.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import { type AuthOptions, createTessera, MemoryStore, type SessionStore, type Tessera } from '@tessera/core'
import type { MailMessage, Mailer } from '../../mail/mailer.js'
import { redisStoreForTest } from '../../../../../test/support/redis.js'
import { openPostgresUserStore } from '../../users/postgres.js'
import type { UserStore } from '../../users/user-store.js'
import { buildApp, type AppOptions } from '../app.js'
import { RedisRateLimiter } from '../rate-limiter.js'
import { FIXTURE_CONNECT_TIMEOUT_MS, SHARED_DATABASE_URL } from '../../../../../test/support/postgres.js'

export const DATABASE_URL = SHARED_DATABASE_URL
export { FIXTURE_CONNECT_TIMEOUT_MS }

/** A schema of its own in the test database; `drop` removes it. */
export async function testSchema(): Promise<{ schema: string; drop(): Promise<void> }> {
  const schema = `t_${randomBytes(6).toString('hex')}`
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  await client.query(`CREATE SCHEMA ${schema}`)
  await client.end()
  return {
    schema,
    async drop() {
      const c = new pg.Client({ connectionString: DATABASE_URL })
      await c.connect()
      await c.query(`DROP SCHEMA ${schema} CASCADE`)
      await c.end()
    },
  }
}

/** A mailer that keeps what it is given. */
export class MemoryMailer implements Mailer {
  readonly kind = 'outbox'
  readonly sent: MailMessage[] = []
  async send(message: MailMessage): Promise<void> {
    this.sent.push(message)
  }
  async close(): Promise<void> {}
}

export interface TestServer {
  app: FastifyInstance
  auth: Tessera
  users: UserStore
  mailer: Mailer
  close(): Promise<void>
}

// Every test request comes from 127.0.0.1: only the rate-limit tests want the real limits.
const RELAXED_LIMITS = {
  loginPerIp: { max: 10_000, windowSeconds: 60 },
  loginPerAccount: { max: 100, windowSeconds: 60 },
  refreshPerIp: { max: 10_000, windowSeconds: 60 },
  sensitivePerIp: { max: 10_000, windowSeconds: 60 },
  clientAuthPerIp: { max: 10_000, windowSeconds: 60 },
  clientAuthPerClient: { max: 10_000, windowSeconds: 60 },
}

/**
 * Builds an app; with `redis` the session store and the limiter are on the shared Redis under a fresh prefix,
 * else on `store` (closed with the server) or a new memory store.
 */
export async function testServer(options: {
  schema: string
  store?: SessionStore
  redis?: boolean
  redisUrl?: string
  auth?: AuthOptions
  app?: Partial<AppOptions>
  mailer?: Mailer
}): Promise<TestServer> {
  const cleanups: (() => Promise<void>)[] = []
  let store: SessionStore
  let limiter: RedisRateLimiter | undefined
  if (options.redis) {
    const r = await redisStoreForTest('server', options.redisUrl)
    cleanups.push(() => r.cleanup())
    store = r.store
    limiter = new RedisRateLimiter(r.store.connection, r.prefix)
  } else {
    store = options.store ?? new MemoryStore()
    const memory = store
    cleanups.push(() => memory.close())
  }
  const auth = await createTessera({ store, tokenKey: 'server-test-token-key-of-32-bytes!!!', issuer: 'https://auth.test', audience: 'api', ...options.auth })
  const users = await openPostgresUserStore({ url: DATABASE_URL, schema: options.schema, connectTimeoutMs: FIXTURE_CONNECT_TIMEOUT_MS })
  cleanups.push(() => users.close())
  const mailer = options.mailer ?? new MemoryMailer()
  const app = await buildApp({
    auth,
    users,
    mailer,
    webDir: null,
    publicUrl: 'http://auth.test',
    rateLimits: RELAXED_LIMITS,
    ...(limiter ? { limiter } : {}),
    ...options.app,
  })
  return {
    app,
    auth,
    users,
    mailer,
    async close() {
      await app.close()
      for (const cleanup of cleanups.reverse()) await cleanup()
    },
  }
}

let counter = 0
/** An email no other test uses. */
export function uniqueEmail(label = 'user'): string {
  counter += 1
  return `${label}-${counter}-${randomBytes(3).toString('hex')}@example.com`
}

export const PASSWORD = 'correct horse battery staple'

/** Registers and signs in a fresh user; returns the ids and the token response. */
export async function signUp(app: FastifyInstance, email = uniqueEmail(), password = PASSWORD, headers: Record<string, string> = {}) {
  const registered = await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password } })
  if (registered.statusCode !== 202) throw new Error(`register failed: ${registered.statusCode} ${registered.body}`)
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password }, headers })
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.statusCode} ${login.body}`)
  const tokens = login.json<{ access_token: string; refresh_token: string; session_id: string; expires_in: number; token_type: string }>()
  return { email, userId: userIdOf(tokens.access_token), tokens, login }
}

/** The user id (`sub`) of an access token, read without verifying (tests only). */
export function userIdOf(accessToken: string): string {
  return (JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string }).sub
}

/** `Authorization: Bearer` header. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}

/** Asserts a problem+json reply with this status and code. */
export function problemOf(res: LightMyRequestResponse): { status: number; code: string; detail: string; type: string; title: string } {
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) throw new Error(`not problem+json: ${res.statusCode} ${res.headers['content-type']} ${res.body}`)
  return res.json()
}
