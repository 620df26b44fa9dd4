// What every admin command shares: output in text or JSON, one error path with
// stable exit codes, and opening the engine on the server's Redis.
import type { Command } from 'commander'
import { AuthError, type Tessera } from '@tessera/core'
import { RedisDeliveryQueue, RedisSessionStore } from '@tessera/redis'
import { ConfigError, readCliConfig, type CliConfig } from '../config.js'
import { openEngine } from '../../server/engine.js'
import { SecurityEventPublisher } from '../../server/webhooks/security-events.js'

/** Exit codes, documented in `tessera --help` and the README. */
export const EXIT = { ok: 0, failure: 1, usage: 2, notFound: 3 } as const

/** A failure the operator should read; `code` is stable for `--json` consumers. */
export class CliError extends Error {
  override name = 'CliError'
  readonly code: string
  readonly exitCode: number

  constructor(message: string, options: { code?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = options.code ?? 'ERR_CLI'
    this.exitCode = options.exitCode ?? EXIT.failure
  }
}

/** Where a command writes: a text line for people, or one JSON document for scripts. */
export interface Output {
  readonly json: boolean
  /** Prints `data` as JSON with `--json`, else `text` (a line or lines). */
  result(text: string | string[], data: unknown): void
  /** A single streamed record (events tail): one line of text or one JSON line. */
  line(text: string, data: unknown): void
}

function makeOutput(json: boolean): Output {
  return {
    json,
    result(text, data) {
      process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${Array.isArray(text) ? text.join('\n') : text}\n`)
    },
    line(text, data) {
      process.stdout.write(`${json ? JSON.stringify(data) : text}\n`)
    },
  }
}

/** Hides the password of a Redis URL before it is shown. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparseable url)'
  }
}

function describeError(err: unknown, config: CliConfig | null): CliError {
  if (err instanceof CliError) return err
  if (err instanceof ConfigError) return new CliError(err.message, { code: 'ERR_CONFIG', exitCode: EXIT.usage })
  if (err instanceof AuthError) {
    if (err.code === 'ERR_STORE_UNAVAILABLE') {
      const where = config?.redisUrl ? ` at ${redactUrl(config.redisUrl)}` : ''
      return new CliError(`cannot reach Redis${where}: ${err.message}`, { code: err.code, exitCode: EXIT.failure })
    }
    if (err.code === 'ERR_INVALID_INPUT') return new CliError(err.message, { code: err.code, exitCode: EXIT.usage })
    return new CliError(err.message, { code: err.code, exitCode: EXIT.failure })
  }
  if (err instanceof TypeError) return new CliError(err.message, { code: 'ERR_INVALID_INPUT', exitCode: EXIT.usage })
  const message = err instanceof Error ? err.message : String(err)
  return new CliError(message, { code: 'ERR_CLI', exitCode: EXIT.failure })
}

/** Adds `--json` to a command, so every command offers it in its own `--help`. */
export function withJson(command: Command): Command {
  return command.option('--json', 'print machine-readable JSON')
}

/** What an action receives. */
export interface ActionContext {
  out: Output
  /** The configuration, read on first use so `--help` works without it. */
  config: () => CliConfig
}

/**
 * Wraps a command action: gives it output and configuration, turns any failure
 * into one clear line (or a JSON error on stderr) and a non-zero exit code.
 *
 * @example
 * ```ts
 * withJson(cmd).action(runAction(async ({ out }, userId: string) => out.result(`user ${userId}`, { userId })))
 * ```
 */
export function runAction<A extends unknown[]>(body: (ctx: ActionContext, ...args: A) => Promise<void>): (...args: unknown[]) => Promise<void> {
  return async (...raw: unknown[]) => {
    // commander passes the positional arguments, then the options object, then the command.
    const command = raw[raw.length - 1] as Command
    const json = Boolean(command.optsWithGlobals<{ json?: boolean }>().json)
    const out = makeOutput(json)
    let config: CliConfig | null = null
    const ctx: ActionContext = {
      out,
      config: () => (config ??= readCliConfig(process.env)),
    }
    try {
      await body(ctx, ...(raw.slice(0, -1) as A))
    } catch (err) {
      const failure = describeError(err, config)
      if (json) process.stderr.write(`${JSON.stringify({ error: { code: failure.code, message: failure.message } })}\n`)
      else process.stderr.write(`tessera: ${failure.message}\n`)
      process.exitCode = failure.exitCode
    }
  }
}

/** The engine on the server's Redis, for commands that act on shared state. */
export interface AdminHandle {
  auth: Tessera
  store: RedisSessionStore
  close(): Promise<void>
}

/** Refuses a command that needs the shared store when none is configured. */
function assertRedis(config: CliConfig): asserts config is CliConfig & { redis: NonNullable<CliConfig['redis']> } {
  if (!config.redis) {
    throw new CliError('this command acts on the server\'s shared session state and needs REDIS_URL (or REDIS_SENTINELS / REDIS_CLUSTER_NODES; the memory store lives inside the server process)', {
      code: 'ERR_REDIS_REQUIRED',
      exitCode: EXIT.usage,
    })
  }
}

/**
 * Connects to the server's Redis for one command. A separate process on the
 * memory store would see none of the server's sessions, so without REDIS_URL
 * this refuses clearly.
 */
export async function connectStore(config: CliConfig): Promise<RedisSessionStore> {
  assertRedis(config)
  return RedisSessionStore.connect({
    ...config.redis,
    keyPrefix: config.redisKeyPrefix,
    commandTimeoutMs: 3000,
    // A one-shot command must fail, not wait forever, when Redis is down: give up after about 2 s of retries.
    client: { socket: { connectTimeout: 3000, reconnectStrategy: (retries: number) => (retries >= 8 ? new Error('Redis did not answer') : 250) } },
  })
}

/**
 * With TESSERA_WEBHOOKS, queues the security events of this command's changes
 * (bans, revocations) in the fleet's webhook queue, as a server instance
 * queues its own; the servers' deliverers send them. Enqueue only: a one-shot
 * command must not hold deliveries it might not finish.
 */
async function publishSecurityEvents(config: CliConfig, auth: Tessera, store: RedisSessionStore): Promise<SecurityEventPublisher | null> {
  if (config.webhooks.length === 0) return null
  const queue = await RedisDeliveryQueue.open(store.connection, { keyPrefix: config.redisKeyPrefix, name: 'webhooks' })
  return new SecurityEventPublisher({
    auth,
    queue,
    endpoints: config.webhooks,
    // The change itself is done and stays done: say that its webhook is lost, as the server logs it.
    onError: (err, event) => process.stderr.write(`tessera: warning: the ${event.type} webhook event could not be queued: ${err instanceof Error ? err.message : String(err)}\n`),
  })
}

/** Opens the engine on Redis in the admin role: it signs nothing and writes no issuer heartbeat. */
export async function openAdmin(config: CliConfig): Promise<AdminHandle> {
  const store = await connectStore(config)
  try {
    const { auth } = await openEngine(config, store, { role: 'admin' })
    const publisher = await publishSecurityEvents(config, auth, store).catch(async (err: unknown) => {
      await auth.close()
      throw err
    })
    return {
      auth,
      store,
      // Events still being queued first; the engine does not own the store it was given, so close both, engine first.
      close: async () => {
        try {
          await publisher?.close()
          await auth.close()
        } finally {
          await store.close()
        }
      },
    }
  } catch (err) {
    await store.close()
    throw err
  }
}

/** Runs `body` with an open admin handle and always closes it. */
export async function withAdmin<T>(config: CliConfig, body: (admin: AdminHandle) => Promise<T>): Promise<T> {
  const admin = await openAdmin(config)
  try {
    return await body(admin)
  } finally {
    await admin.close()
  }
}

/**
 * The user id for a `<user>` argument: an email looked up in the server's
 * PostgreSQL user database, or an id, checked there too when DATABASE_URL is
 * set (an unknown one fails as an unknown email does) and taken as given
 * otherwise. The embedded database belongs to the server process, so email
 * lookup needs DATABASE_URL.
 *
 * @example
 * ```ts
 * const userId = await resolveUser(config, 'ada@example.com')
 * ```
 */
export async function resolveUser(config: CliConfig, user: string): Promise<string> {
  const byEmail = user.includes('@')
  // Without the user database an id cannot be checked: it is taken as given (the store knows sessions, not users).
  if (!byEmail && !config.databaseUrl) return user
  if (!config.databaseUrl) {
    throw new CliError('finding a user by email needs DATABASE_URL (the embedded user database belongs to the server process); pass the user id instead', {
      code: 'ERR_DATABASE_REQUIRED',
      exitCode: EXIT.usage,
    })
  }
  // Loaded only here: most commands never touch the user database.
  const [{ openPostgresUserStore }, { normaliseEmail }] = await Promise.all([import('../../users/postgres.js'), import('../../users/email.js')])
  const email = byEmail ? normaliseEmail(user) : null
  if (byEmail && !email) throw new CliError(`"${user.slice(0, 80)}" is not a valid email address`, { code: 'ERR_INVALID_INPUT', exitCode: EXIT.usage })
  // The server's schema, and no migrations: a look-up in a mistyped schema must create no tables there.
  // Without migrations nothing connects until the first query, so both failures are told apart below.
  const users = await openPostgresUserStore({ url: config.databaseUrl, maxConnections: 1, migrate: false, ...(config.databaseSchema ? { schema: config.databaseSchema } : {}) })
  try {
    // An unknown id and an unknown email are the same failure: exit 3, "no user with ...".
    let found
    try {
      found = email ? await users.findByEmail(email) : await users.findById(user)
    } catch (err) {
      // 42P01 undefined_table: no server has migrated this schema (or TESSERA_DATABASE_SCHEMA differs from the server's).
      if ((err as { code?: unknown }).code === '42P01') {
        throw new CliError(`the user database has no tessera_users table in schema ${config.databaseSchema ?? '(the connection\'s search_path)'}; set TESSERA_DATABASE_SCHEMA as the server has it`, {
          code: 'ERR_USER_TABLE_MISSING',
          cause: err,
        })
      }
      throw new CliError(`cannot reach the user database: ${err instanceof Error ? err.message : String(err)}`, { code: 'ERR_DATABASE_UNAVAILABLE', cause: err })
    }
    if (!found) throw new CliError(email ? `no user with email ${email}` : `no user with id ${user.slice(0, 80)}`, { code: 'ERR_USER_NOT_FOUND', exitCode: EXIT.notFound })
    return found.userId
  } finally {
    await users.close()
  }
}
