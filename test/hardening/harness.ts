import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { type AuthOptions, createTessera, SigningKeySet, type Tessera } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { type AppOptions, buildApp, openPostgresUserStore, type RateLimits, RedisRateLimiter, type UserStore } from '@tessera/server'
import { MemoryMailer } from '../../packages/server/src/server/test/helpers.js'
import { SHARED_DATABASE_URL } from '../support/postgres.js'
import { deleteKeys, redisAnswers, uniquePrefix } from '../support/redis.js'

/**
 * A whole auth server for the hardening suites, on a Redis and a PostgreSQL
 * the suite chooses (a private redis-server, a TCP proxy in front of the
 * shared PostgreSQL), so they can be killed, cut and restored. Several
 * instances built with the same `shared` parts behave as one deployment.
 */

export const TEST_DATABASE_URL = SHARED_DATABASE_URL

/** Limits high enough that only the brute-force suite meets them. */
export const GENEROUS_LIMITS: RateLimits = {
  loginPerIp: { max: 1_000_000, windowSeconds: 60 },
  loginPerAccount: { max: 1_000_000, windowSeconds: 60 },
  refreshPerIp: { max: 1_000_000, windowSeconds: 60 },
  sensitivePerIp: { max: 1_000_000, windowSeconds: 60 },
  mailPerAccount: { max: 1_000_000, windowSeconds: 60 },
  clientAuthPerIp: { max: 1_000_000, windowSeconds: 60 },
  clientAuthPerClient: { max: 1_000_000, windowSeconds: 60 },
}

/** What every instance of one deployment shares: keys, token key, key prefix and schema. */
export interface Deployment {
  keys: SigningKeySet
  tokenKey: string
  keyPrefix: string
  schema: string
  redisUrl: string
  databaseUrl: string
  /** Drops the schema and the Redis keys (when Redis still answers). */
  drop(): Promise<void>
}

/** Creates the shared parts: a fresh schema in the test database and a fresh key prefix. */
export async function createDeployment(options: { redisUrl: string; databaseUrl?: string }): Promise<Deployment> {
  const schema = `h_${randomBytes(6).toString('hex')}`
  const databaseUrl = options.databaseUrl ?? TEST_DATABASE_URL
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await admin.connect()
  await admin.query(`CREATE SCHEMA ${schema}`)
  await admin.end()
  const keyPrefix = uniquePrefix('hardening')
  return {
    keys: await SigningKeySet.generate({ alg: 'ES256' }),
    tokenKey: randomBytes(32).toString('base64url'),
    keyPrefix,
    schema,
    redisUrl: options.redisUrl,
    databaseUrl,
    async drop() {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL })
      await c.connect()
      await c.query(`DROP SCHEMA ${schema} CASCADE`)
      await c.end()
      // A private Redis the suite killed would make the clean-up client retry forever.
      if (await redisAnswers(options.redisUrl)) await deleteKeys(options.redisUrl, keyPrefix)
    },
  }
}

/** One server instance of a deployment. */
export interface HardeningServer {
  app: FastifyInstance
  auth: Tessera
  users: UserStore
  mailer: MemoryMailer
  store: RedisSessionStore
  close(): Promise<void>
}

/**
 * Builds one instance: its own Redis connection, Tessera and database pool,
 * sharing keys and token key with the rest of the deployment.
 *
 * @example
 * ```ts
 * const deployment = await createDeployment({ redisUrl: redis.url })
 * const a = await startInstance(deployment), b = await startInstance(deployment)
 * ```
 */
export async function startInstance(
  deployment: Deployment,
  options: { auth?: AuthOptions; app?: Partial<AppOptions>; rateLimits?: Partial<RateLimits>; commandTimeoutMs?: number } = {},
): Promise<HardeningServer> {
  const store = await RedisSessionStore.connect({ url: deployment.redisUrl, keyPrefix: deployment.keyPrefix, commandTimeoutMs: options.commandTimeoutMs ?? 500 })
  const auth = await createTessera({ store, keys: deployment.keys, tokenKey: deployment.tokenKey, issuer: 'https://auth.test', audience: 'api', ...options.auth })
  const users = await openPostgresUserStore({ url: deployment.databaseUrl, schema: deployment.schema, connectTimeoutMs: 500, statementTimeoutMs: 1000 })
  const mailer = new MemoryMailer()
  const app = await buildApp({
    auth,
    users,
    mailer,
    webDir: null,
    publicUrl: 'http://auth.test',
    limiter: new RedisRateLimiter(store.connection, deployment.keyPrefix),
    rateLimits: { ...GENEROUS_LIMITS, ...options.rateLimits },
    ...options.app,
  })
  return {
    app,
    auth,
    users,
    mailer,
    store,
    async close() {
      await app.close()
      await users.close()
      await store.close()
    },
  }
}

export const PASSWORD = 'correct horse battery staple'

/** Registers and signs in a fresh user on `app`. */
export async function registerAndLogin(app: FastifyInstance, email = `h-${randomBytes(6).toString('hex')}@example.com`, password = PASSWORD) {
  const registered = await app.inject({ method: 'POST', url: '/auth/register', payload: { email, password } })
  if (registered.statusCode !== 202) throw new Error(`register failed: ${registered.statusCode} ${registered.body}`)
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } })
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.statusCode} ${login.body}`)
  const tokens = login.json<{ access_token: string; refresh_token: string; session_id: string }>()
  // Registration answers alike for new and taken emails (no id): the id is the token's subject.
  const userId = (JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string }).sub
  return { email, password, userId, tokens }
}

/** `Authorization: Bearer` header. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}
