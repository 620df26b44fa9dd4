import type { SqlDatabase } from './sql-database.js'

/** Ordered schema changes. Append only: never edit one that has shipped. */
export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `CREATE TABLE tessera_users (
      user_id text PRIMARY KEY,
      email text NOT NULL UNIQUE,
      password_hash text NOT NULL,
      email_verified boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`,
  },
]

// Any constant works; it only has to be the same for every instance running migrations.
const MIGRATION_LOCK_ID = 741_852_963

/**
 * Brings the schema up to date. Several instances may start at once, so the
 * work runs in one transaction under an advisory lock.
 *
 * @example
 * ```ts
 * await migrate(database)
 * ```
 */
export async function migrate(database: SqlDatabase): Promise<number> {
  return database.transaction(async (query) => {
    await query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID])
    await query('CREATE TABLE IF NOT EXISTS tessera_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
    const { rows } = await query<{ version: number }>('SELECT version FROM tessera_schema_migrations')
    const done = new Set(rows.map((r) => Number(r.version)))
    let applied = 0
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue
      await query(migration.sql)
      await query('INSERT INTO tessera_schema_migrations (version) VALUES ($1)', [migration.version])
      applied += 1
    }
    return applied
  })
}
