// The fleet of issue 11 on one Redis: three auth-server instances on skewed
// injected clocks, two cached verifiers, and the forward-auth gateway behind
// real NGINX; each "checker" answers with the HTTP status a service behind
// it would give.
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { createTessera, type Tessera } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { buildApp, openPostgresUserStore, type UserStore } from '@tessera/server'
import { createVerifier, problemFor, type Verifier } from '@tessera/verifier'
import { MemoryMailer } from '../../packages/server/src/server/test/helpers.js'
import { startGatewayEdge, type GatewayEdge } from '../support/nginx.js'
import { FIXTURE_CONNECT_TIMEOUT_MS, SHARED_DATABASE_URL } from '../support/postgres.js'
import { deleteKeys, SHARED_REDIS_URL, uniquePrefix } from '../support/redis.js'

export const ISSUER = 'https://auth.fleet.test'
export const AUDIENCE = 'api'
export const ADMIN_TOKEN = 'fleet-admin-token-of-at-least-24-chars'
/** Access-token lifetime of every instance. */
export const ACCESS_TOKEN_TTL_SECONDS = 120
/**
 * Clock tolerance of every instance and verifier: instances 1.6 s apart must
 * accept each other's tokens (`iat` is checked against the future).
 */
export const CLOCK_TOLERANCE_SECONDS = 1

/** One auth-server instance: engine on its own clock, own Redis connection, listening on loopback. */
export interface FleetInstance {
  name: string
  skewMs: number
  app: FastifyInstance
  auth: Tessera
  url: string
  close(): Promise<void>
}

/** Something that decides about a token: the HTTP status it answers with. */
export interface Checker {
  name: string
  status(token: string): Promise<number>
}

export interface Fleet {
  prefix: string
  instances: FleetInstance[]
  verifiers: Verifier[]
  edge: GatewayEdge
  users: UserStore
  checkers: Checker[]
  close(): Promise<void>
}

async function startInstance(name: string, skewMs: number, prefix: string, tokenKey: string, schema: string): Promise<FleetInstance> {
  const store = await RedisSessionStore.connect({ url: SHARED_REDIS_URL, keyPrefix: prefix })
  const auth = await createTessera({
    store,
    tokenKey,
    issuer: ISSUER,
    audience: AUDIENCE,
    accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS,
    clockToleranceSeconds: CLOCK_TOLERANCE_SECONDS,
    clock: { nowMs: () => Date.now() + skewMs },
    sharedKeys: { pollIntervalMs: 500 },
  })
  const users = await openPostgresUserStore({ url: SHARED_DATABASE_URL, schema, connectTimeoutMs: FIXTURE_CONNECT_TIMEOUT_MS })
  const app = await buildApp({ auth, users, mailer: new MemoryMailer(), webDir: null, adminToken: ADMIN_TOKEN })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return {
    name,
    skewMs,
    app,
    auth,
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    async close() {
      await app.close()
      await auth.close()
      await users.close()
      await store.close()
    },
  }
}

/** A status from an in-process verifier, mapped as every adapter maps it (problem+json statuses). */
function verifierChecker(name: string, verifier: Verifier): Checker {
  return {
    name,
    async status(token) {
      try {
        await verifier.verify(token)
        return 200
      } catch (err) {
        return problemFor(err).status
      }
    },
  }
}

function httpChecker(name: string, url: string): Checker {
  return {
    name,
    async status(token) {
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })
      await res.arrayBuffer()
      return res.status
    },
  }
}

/**
 * Starts the whole fleet under a fresh key prefix and PostgreSQL schema:
 * instances skewed by `skewsMs`, two cached verifiers following the JWKS of
 * the first and last instance, the gateway process following the second's.
 */
export async function startFleet(skewsMs: number[]): Promise<Fleet> {
  const prefix = uniquePrefix('fleet')
  const schema = `f_${randomBytes(6).toString('hex')}`
  const tokenKey = randomBytes(32).toString('base64url')
  const admin = new pg.Client({ connectionString: SHARED_DATABASE_URL })
  await admin.connect()
  await admin.query(`CREATE SCHEMA ${schema}`)
  await admin.end()
  const cleanups: (() => Promise<void>)[] = [
    async () => {
      const c = new pg.Client({ connectionString: SHARED_DATABASE_URL })
      await c.connect()
      await c.query(`DROP SCHEMA ${schema} CASCADE`)
      await c.end()
    },
    () => deleteKeys(SHARED_REDIS_URL, prefix),
  ]
  const close = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
  }
  try {
    const instances: FleetInstance[] = []
    // One after the other: the first seeds the shared key set, the others load it.
    for (const [n, skewMs] of skewsMs.entries()) {
      const instance = await startInstance(String.fromCharCode(65 + n), skewMs, prefix, tokenKey, schema)
      instances.push(instance)
      cleanups.push(() => instance.close())
    }
    const users = await openPostgresUserStore({ url: SHARED_DATABASE_URL, schema, connectTimeoutMs: FIXTURE_CONNECT_TIMEOUT_MS })
    cleanups.push(() => users.close())
    const verifiers: Verifier[] = []
    for (const instance of [instances[0]!, instances.at(-1)!]) {
      const verifier = await createVerifier({
        mode: 'cached',
        keys: { jwksUrl: `${instance.url}/.well-known/jwks.json` },
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['ES256'],
        redis: { url: SHARED_REDIS_URL, keyPrefix: prefix },
        clockToleranceSeconds: CLOCK_TOLERANCE_SECONDS,
        // The limits are checked against the instance's RFC 8414 metadata at start.
        issuerMetadataUrl: `${instance.url}/.well-known/oauth-authorization-server`,
      })
      verifiers.push(verifier)
      cleanups.push(() => verifier.close())
    }
    const edge = await startGatewayEdge({
      REDIS_URL: SHARED_REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_ISSUER: ISSUER,
      TESSERA_AUDIENCE: AUDIENCE,
      TESSERA_ALGORITHMS: 'ES256',
      TESSERA_JWKS_URL: `${instances[1 % instances.length]!.url}/.well-known/jwks.json`,
      TESSERA_CLOCK_TOLERANCE: String(CLOCK_TOLERANCE_SECONDS),
      TESSERA_ISSUER_METADATA_URL: `${instances[1 % instances.length]!.url}/.well-known/oauth-authorization-server`,
      // Checked at start against what the issuer advertises (a mismatch would stop the gateway).
      ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL_SECONDS),
    })
    cleanups.push(() => edge.stop())
    const checkers: Checker[] = [
      ...verifiers.map((v, n) => verifierChecker(`cached verifier ${n + 1}`, v)),
      httpChecker('gateway behind NGINX', `${edge.proxy.url}/orders`),
      ...instances.map((i) => httpChecker(`instance ${i.name} (strict)`, `${i.url}/demo/protected`)),
    ]
    return { prefix, instances, verifiers, edge, users, checkers, close }
  } catch (err) {
    await close()
    throw err
  }
}
