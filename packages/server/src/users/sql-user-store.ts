import { randomUUID } from 'node:crypto'
import { normaliseEmail } from './email.js'
import { migrate } from './migrations.js'
import type { SqlDatabase } from './sql-database.js'
import { EmailTaken, type UserRecord, type UserStore } from './user-store.js'

interface UserRow {
  user_id: string
  email: string
  password_hash: string
  email_verified: boolean
  created_at: Date | string
}

const COLUMNS = 'user_id, email, password_hash, email_verified, created_at'

function toRecord(row: UserRow | undefined): UserRecord | null {
  if (!row) return null
  return {
    userId: row.user_id,
    email: row.email,
    passwordHash: row.password_hash,
    emailVerified: row.email_verified,
    createdAtMs: new Date(row.created_at).getTime(),
  }
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505'
}

/**
 * The {@link UserStore} over any {@link SqlDatabase}: PostgreSQL and the
 * embedded PGlite run exactly this SQL. Runs migrations before it is returned.
 *
 * @example
 * ```ts
 * const users = await SqlUserStore.open(database, 'postgresql')
 * ```
 */
export class SqlUserStore implements UserStore {
  readonly kind: 'postgresql' | 'embedded'
  readonly #db: SqlDatabase
  #closing: Promise<void> | null = null

  private constructor(db: SqlDatabase, kind: 'postgresql' | 'embedded') {
    this.#db = db
    this.kind = kind
  }

  /**
   * Migrates `db` and wraps it; the store closes `db` on {@link close}. With
   * `migrate: false` it only wraps it: for a database some server has already
   * migrated (admin look-ups), so that a wrong schema creates nothing.
   */
  static async open(db: SqlDatabase, kind: 'postgresql' | 'embedded', options: { migrate?: boolean } = {}): Promise<SqlUserStore> {
    if (options.migrate === false) return new SqlUserStore(db, kind)
    try {
      await migrate(db)
    } catch (err) {
      await db.close()
      throw err
    }
    return new SqlUserStore(db, kind)
  }

  async createUser(input: { email: string; passwordHash: string }): Promise<UserRecord> {
    const email = normaliseEmail(input.email)
    if (!email) throw new TypeError('"email" is not a valid address')
    try {
      const { rows } = await this.#db.query<UserRow>(
        `INSERT INTO tessera_users (user_id, email, password_hash) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
        [randomUUID(), email, input.passwordHash],
      )
      return toRecord(rows[0])!
    } catch (err) {
      if (isUniqueViolation(err)) throw new EmailTaken()
      throw err
    }
  }

  async findByEmail(email: string): Promise<UserRecord | null> {
    const normalised = normaliseEmail(email)
    if (!normalised) return null
    const { rows } = await this.#db.query<UserRow>(`SELECT ${COLUMNS} FROM tessera_users WHERE email = $1`, [normalised])
    return toRecord(rows[0])
  }

  async findById(userId: string): Promise<UserRecord | null> {
    const { rows } = await this.#db.query<UserRow>(`SELECT ${COLUMNS} FROM tessera_users WHERE user_id = $1`, [userId])
    return toRecord(rows[0])
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    const { rows } = await this.#db.query('UPDATE tessera_users SET password_hash = $2, updated_at = now() WHERE user_id = $1 RETURNING user_id', [userId, passwordHash])
    return rows.length > 0
  }

  async setEmailVerified(userId: string): Promise<boolean> {
    const { rows } = await this.#db.query('UPDATE tessera_users SET email_verified = true, updated_at = now() WHERE user_id = $1 RETURNING user_id', [userId])
    return rows.length > 0
  }

  async ping(): Promise<void> {
    await this.#db.query('SELECT 1')
  }

  close(): Promise<void> {
    this.#closing ??= this.#db.close()
    return this.#closing
  }
}
