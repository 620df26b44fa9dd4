import { mkdir } from 'node:fs/promises'
import { PGlite } from '@electric-sql/pglite'
import type { SqlDatabase } from './sql-database.js'
import { SqlUserStore } from './sql-user-store.js'

function pgliteDatabase(db: PGlite): SqlDatabase {
  let closing: Promise<void> | null = null
  return {
    async query<Row>(text: string, params: unknown[] = []) {
      const result = await db.query<Row>(text, params)
      return { rows: result.rows }
    },
    async transaction(work) {
      return db.transaction(async (tx) => work(async <Row>(text: string, params: unknown[] = []) => ({ rows: (await tx.query<Row>(text, params)).rows })))
    },
    close() {
      closing ??= db.close()
      return closing
    },
  }
}

/**
 * Opens the embedded on-disk user store (PGlite, PostgreSQL compiled to WASM)
 * in `dir`, so it runs the same SQL as the PostgreSQL store and survives restarts.
 *
 * @example
 * ```ts
 * const users = await openEmbeddedUserStore('./.tessera/users')
 * ```
 */
export async function openEmbeddedUserStore(dir: string): Promise<SqlUserStore> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const db = await PGlite.create(dir)
  return SqlUserStore.open(pgliteDatabase(db), 'embedded')
}
