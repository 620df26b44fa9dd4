import { mkdir } from 'node:fs/promises'
import { PGlite } from '@electric-sql/pglite'
import { assertPrivateDirectory, tightenTree } from './private-directory.js'
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
  // The data dir above is checked at start (openResources); this one may be any path a library user chose.
  await assertPrivateDirectory(dir)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const db = await PGlite.create(dir)
  // PGlite writes its files 0666 whatever the umask; owner-only, as the rest of the data dir.
  const store = await SqlUserStore.open(pgliteDatabase(db), 'embedded')
  await tightenTree(dir)
  return store
}
