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
 * Opens the PostgreSQL user store and runs migrations.
 *
 * @example
 * ```ts
 * const users = await openPostgresUserStore({ url: process.env.DATABASE_URL! })
 * ```
 */
export async function openPostgresUserStore(options: PostgresUserStoreOptions): Promise<SqlUserStore> {
  if (options.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema)) throw new TypeError('"schema" must be a lower-case SQL identifier')
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
    statement_timeout: options.statementTimeoutMs ?? 5000,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  })
  // An idle client that loses its connection emits 'error' on the pool; without a listener that kills the process.
  pool.on('error', () => {})
  return SqlUserStore.open(poolDatabase(pool), 'postgresql')
}
