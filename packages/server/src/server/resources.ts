import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { type DeliveryQueue, PersistentMemoryStore, type SessionStore, type Tessera } from '@tessera/core'
import { createMailer } from '../mail/index.js'
import type { Mailer } from '../mail/mailer.js'
import { assertMemoryPolicy, RedisDeliveryQueue, RedisSessionStore, type RedisTopologyOptions } from '@tessera/redis'
import { assertPrivateDirectory } from '../users/private-directory.js'
import { openEmbeddedUserStore } from '../users/embedded.js'
import { closePasswordHashing, configurePasswordHashing } from '../users/password.js'
import { openPostgresUserStore } from '../users/postgres.js'
import type { UserStore } from '../users/user-store.js'
import type { AppOptions } from './app.js'
import type { ServerConfig } from './config.js'
import { openEngine } from './engine.js'
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from './rate-limiter.js'

/** How long the server waits for Redis at start before it gives up (the library default is 10 s). */
const START_CONNECT_TIMEOUT_MS = 3000

/** What the server connects to, for the start-up line and errors: addresses, database number, never a password. */
export function redisTarget(redis: RedisTopologyOptions & { url?: string }): string {
  const nodes = (list: { host: string; port: number }[]) => list.map((n) => `${n.host}:${n.port}`).join(',')
  if (redis.cluster) return `redis cluster ${nodes(redis.cluster.nodes)}`
  if (redis.sentinel) return `redis sentinel master ${redis.sentinel.masterName} via ${nodes(redis.sentinel.nodes)}`
  const url = new URL(redis.url ?? 'redis://127.0.0.1:6379')
  return `redis ${url.protocol === 'rediss:' ? '(tls) ' : ''}${url.hostname}:${url.port || 6379} db ${Number(url.pathname.slice(1) || 0)}`
}

/** The PostgreSQL host, database and schema (from TESSERA_DATABASE_SCHEMA or the URL's search_path), never the user or password. */
export function postgresTarget(databaseUrl: string, schema: string | null): string {
  const url = new URL(databaseUrl)
  const searchPath = /search_path=([\w,]+)/.exec(url.searchParams.get('options') ?? '')?.[1]
  return `postgresql ${url.hostname || 'localhost'}:${url.port || 5432}/${url.pathname.slice(1) || '(default)'} schema ${schema ?? searchPath ?? 'public'}`
}

/** Everything the server opens at start; `close` shuts it in reverse order. */
export interface ServerResources {
  auth: Tessera
  users: UserStore
  mailer: Mailer
  limiter: RateLimiter
  /** The webhook queue (in the store, shared by the fleet); null when no webhook is configured. */
  webhookQueue: DeliveryQueue | null
  saveKeys: (() => Promise<void>) | null
  /** One line saying which store, user database and mailer are in use. */
  summary: string
  /** What start-up found worth a warning (a crash recovered from), one line each. */
  notices: string[]
  close(): Promise<void>
}

/**
 * Opens the store, keys, user database and mailer the configuration names,
 * falling back to the embedded defaults. Closes what it opened if a later step fails.
 *
 * @example
 * ```ts
 * const resources = await openResources(loadConfig())
 * try { ... } finally { await resources.close() }
 * ```
 */
export async function openResources(config: ServerConfig, options: { progress?: (step: string) => void } = {}): Promise<ServerResources> {
  // Steps that can take seconds are announced before they start, so a first start is never silent.
  const progress = options.progress ?? (() => undefined)
  const opened: (() => Promise<void>)[] = []
  const close = async () => {
    for (const step of opened.reverse()) await step().catch(() => undefined)
  }
  try {
    // Keys and the user database live there: refuse one that others could write into before reading anything.
    await assertPrivateDirectory(config.dataDir)
    let store: SessionStore
    let limiter: RateLimiter
    let webhookQueue: DeliveryQueue | null = null
    const notices: string[] = []
    const sessionsDir = join(config.dataDir, 'sessions')
    if (config.redis) {
      progress(`connecting to ${redisTarget(config.redis)}`)
      const redis = await RedisSessionStore.connect({
        // A Redis that is not there at start is a configuration problem: say so in seconds, not after 10.
        connectTimeoutMs: START_CONNECT_TIMEOUT_MS,
        commandTimeoutMs: config.redisCommandTimeoutMs,
        ...config.redis,
        keyPrefix: config.redisKeyPrefix,
        ...(config.redisDurability ? { durability: config.redisDurability } : {}),
      }).catch((err: unknown) => {
        // The store's error says only that it failed; its cause says how (refused, timed out, TLS, auth).
        const reason = err instanceof Error && err.cause instanceof Error ? err.cause.message : (err as Error).message
        throw new Error(`could not connect to ${redisTarget(config.redis!)}: ${reason}`, { cause: err })
      })
      opened.push(() => redis.close())
      // An evicting Redis would silently drop revocations (cut-offs, bans, denied tokens): refuse to start on one.
      await assertMemoryPolicy(redis.connection)
      store = redis
      limiter = new RedisRateLimiter(redis.connection, config.redisKeyPrefix)
      if (config.webhooks.length > 0) webhookQueue = await RedisDeliveryQueue.open(redis.connection, { keyPrefix: config.redisKeyPrefix, name: 'webhooks' })
    } else {
      // Kept in the data dir, so a restart signs nobody out and a crash forgets no revocation.
      progress(`reading the session store in ${sessionsDir}`)
      const memory = await PersistentMemoryStore.open(sessionsDir)
      opened.push(() => memory.close())
      const { replayedRecords, droppedTornRecord } = memory.recovery
      if (replayedRecords > 0) notices.push(`session store: recovered ${replayedRecords} changes from ${sessionsDir} after an unclean stop`)
      if (droppedTornRecord) notices.push(`session store: dropped a journal record cut short by the unclean stop (its call never returned)`)
      store = memory
      limiter = new MemoryRateLimiter()
      // In the store's journal: queued and retrying deliveries survive a restart, as sessions do.
      if (config.webhooks.length > 0) webhookQueue = memory.deliveryQueue
    }
    const { auth, keysSource, saveKeys } = await openEngine(config, store, { role: 'issuer', progress })
    opened.push(() => auth.close())
    // Password hashing runs in low-priority child processes (SCHED_IDLE or niced); started now so the first sign-in does not pay for it.
    configurePasswordHashing({ size: config.hashingProcesses, maxQueued: config.hashingQueue, priority: config.hashingPriority, nice: config.hashingNice }).warm()
    opened.push(() => closePasswordHashing())
    const usersDir = join(config.dataDir, 'users')
    if (config.databaseUrl) progress(`connecting to ${postgresTarget(config.databaseUrl, config.databaseSchema)} and running migrations`)
    else if (existsSync(join(usersDir, 'PG_VERSION'))) progress(`opening the embedded user database in ${usersDir}`)
    else progress(`first start: creating the embedded user database in ${usersDir} (PGlite initdb: the slowest step, once per data dir)`)
    const users = config.databaseUrl ? await openPostgresUserStore({ url: config.databaseUrl, ...(config.databaseSchema ? { schema: config.databaseSchema } : {}) }) : await openEmbeddedUserStore(join(config.dataDir, 'users'))
    opened.push(() => users.close())
    const mailer = createMailer({ smtpUrl: config.smtpUrl ?? undefined, outboxDir: config.mailOutboxDir, from: config.mailFrom })
    opened.push(() => mailer.close())
    const summary = [
      `session store: ${config.redis ? `${redisTarget(config.redis)} key prefix ${config.redisKeyPrefix}` : `memory (embedded, single process, kept in ${sessionsDir})`}`,
      `user database: ${config.databaseUrl ? postgresTarget(config.databaseUrl, config.databaseSchema) : `embedded (${join(config.dataDir, 'users')})`}`,
      `mailer: ${config.smtpUrl ? 'smtp' : `dev outbox (${config.mailOutboxDir})`}`,
      `signing keys: ${keysSource}`,
    ].join(', ')
    return {
      auth,
      users,
      mailer,
      limiter,
      webhookQueue,
      saveKeys,
      summary,
      notices,
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}

/** buildApp options from a configuration and its opened resources. */
export function appOptions(config: ServerConfig, resources: ServerResources): Omit<AppOptions, 'logger'> {
  return {
    auth: resources.auth,
    users: resources.users,
    mailer: resources.mailer,
    limiter: resources.limiter,
    publicUrl: config.publicUrl,
    adminToken: config.adminToken,
    clients: config.clients,
    cookieSecure: config.cookieSecure,
    trustProxy: config.trustProxy,
    metricsAccess: config.metricsToken ? { token: config.metricsToken } : 'off',
    saveKeys: resources.saveKeys,
    forwardAuth: config.forwardAuth,
    webhooks: resources.webhookQueue
      ? { queue: resources.webhookQueue, endpoints: config.webhooks, delivery: { maxAttempts: config.webhookMaxAttempts, requestTimeoutMs: config.webhookTimeoutMs, leaseMs: config.webhookTimeoutMs + 50_000 } }
      : null,
    securityMail: config.securityMail,
    rateLimits: {
      loginPerIp: { max: config.loginRateLimitPerIp, windowSeconds: 60 },
      loginPerAccount: { max: config.loginRateLimitPerAccount, windowSeconds: 60 },
    },
  }
}
