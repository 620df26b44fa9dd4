import { userInfo } from 'node:os'
import pg from 'pg'
import type { SqlDatabase } from './sql-database.js'
import { SqlUserStore } from './sql-user-store.js'

/** Options of {@link openPostgresUserStore}. */
export interface PostgresUserStoreOptions {
  /** `postgres://` or `postgresql://` URL. */
  url: string
  /** Schema to use (it must exist); default: the server's search_path. Tests give each file its own. */
  schema?: string
  /** Pool size. Default 10. */
  maxConnections?: number
  /** Milliseconds before a connection attempt or a query fails. Default 2000 / 5000. */
  connectTimeoutMs?: number
  statementTimeoutMs?: number
  /** Run migrations first. Default true; false for a tool that only reads what a server created (it creates no table). */
  migrate?: boolean
}

function poolDatabase(pool: pg.Pool): SqlDatabase {
  return {
    async query<Row>(text: string, params: unknown[] = []) {
      const result = await pool.query(text, params)
      return { rows: result.rows as Row[] }
    },
    async transaction(work) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const query = async <Row>(text: string, params: unknown[] = []) => ({ rows: (await client.query(text, params)).rows as Row[] })
        const result = await work(query)
        await client.query('COMMIT')
        return result
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw err
      } finally {
        client.release()
      }
    },
    close: () => pool.end(),
  }
}

/**
 * The database user name for a URL without one. libpq falls back to PGUSER,
 * then to the operating-system user; node-postgres reads PGUSER, then only the
 * USER variable, and fails without it (under systemd, cron, a container). So
 * when neither the URL nor PGUSER names a user, this names the one libpq
 * would: USER, else the OS account. Undefined: node-postgres decides.
 *
 * @example
 * ```ts
 * defaultDatabaseUser('postgres://db.internal/app', {}) // 'tessera' (the OS account)
 * ```
 */
export function defaultDatabaseUser(url: string, env: Record<string, string | undefined> = process.env): string | undefined {
  let named: boolean
  try {
    named = new URL(url).username !== ''
  } catch {
    return undefined
  }
  if (named || env.PGUSER) return undefined
  if (env.USER) return env.USER
  try {
    return userInfo().username
  } catch {
    // No passwd entry for this uid (some containers): node-postgres reports the missing user.
    return undefined
  }
}

/**
 * Opens the PostgreSQL user store and runs migrations (unless `migrate: false`).
 *
 * @example
 * ```ts
 * const users = await openPostgresUserStore({ url: process.env.DATABASE_URL! })
 * ```
 */
export async function openPostgresUserStore(options: PostgresUserStoreOptions): Promise<SqlUserStore> {
  if (options.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema)) throw new TypeError('"schema" must be a lower-case SQL identifier')
  const user = defaultDatabaseUser(options.url)
  // In the URL: node-postgres lets the URL's (empty) user name override a separate `user` option.
  const url = new URL(options.url)
  if (user !== undefined) url.username = encodeURIComponent(user)
  const pool = new pg.Pool({
    connectionString: url.toString(),
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
    statement_timeout: options.statementTimeoutMs ?? 5000,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  })
  // An idle client that loses its connection emits 'error' on the pool; without a listener that kills the process.
  pool.on('error', () => {})
  return SqlUserStore.open(poolDatabase(pool), 'postgresql', { migrate: options.migrate ?? true })
}
