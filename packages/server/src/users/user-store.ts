/** A user as the server keeps it. The password is only ever held as an argon2id hash. */
export interface UserRecord {
  userId: string
  /** Normalised (see `normaliseEmail`). */
  email: string
  passwordHash: string
  emailVerified: boolean
  createdAtMs: number
}

/**
 * Where users live: PostgreSQL when configured, an embedded on-disk database
 * otherwise. Both run the same SQL behind this one interface.
 *
 * @example
 * ```ts
 * const users = await openEmbeddedUserStore('./.tessera/users')
 * const user = await users.createUser({ email: 'ada@example.com', passwordHash })
 * await users.close()
 * ```
 */
export interface UserStore {
  /** "postgresql" or "embedded", for the startup line. */
  readonly kind: 'postgresql' | 'embedded'
  /** @throws {EmailTaken} when the (normalised) email already has an account. */
  createUser(input: { email: string; passwordHash: string }): Promise<UserRecord>
  findByEmail(email: string): Promise<UserRecord | null>
  findById(userId: string): Promise<UserRecord | null>
  /** Returns false when no such user exists. */
  setPasswordHash(userId: string, passwordHash: string): Promise<boolean>
  setEmailVerified(userId: string): Promise<boolean>
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>
  /** Closes what the store opened; idempotent. */
  close(): Promise<void>
}

/** The email already belongs to an account. */
export class EmailTaken extends Error {
  readonly code = 'ERR_EMAIL_TAKEN'
  constructor() {
    super('an account with this email already exists')
    this.name = 'EmailTaken'
  }
}
