import argon2 from 'argon2'
import { HashingPool, HashingUnavailable, type HashingPoolOptions } from './hashing-pool.js'
import { ATTR, inSpan } from '@tessera/core/internal'
import { SPAN, tracer } from '../telemetry.js'

/**
 * OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1. The
 * hashing runs in low-priority child processes (hashing-pool.ts).
 */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

let pool: HashingPool | null = null
let holders = 0

/**
 * Sets up the process-wide pool that hashes passwords (child processes at
 * low CPU priority with a bounded queue, see {@link HashingPool}). The server
 * calls it at start with its settings and {@link closePasswordHashing} at
 * shutdown; several servers in one process share the first one's pool, which
 * ends when the last of them closes. Without it the first hash makes a default pool.
 */
export function configurePasswordHashing(options: HashingPoolOptions): HashingPool {
  holders++
  pool ??= new HashingPool(options)
  return pool
}

function hashingPool(): HashingPool {
  pool ??= new HashingPool()
  return pool
}

/** Releases one {@link configurePasswordHashing}; the last release ends the hashing processes. */
export async function closePasswordHashing(): Promise<void> {
  holders = Math.max(0, holders - 1)
  if (holders > 0) return
  const closing = pool
  pool = null
  await closing?.close()
}

export const MIN_PASSWORD_LENGTH = 10
export const MAX_PASSWORD_LENGTH = 128

/**
 * Why a password is refused, or null when it is acceptable. NIST SP 800-63B:
 * a length floor, a generous ceiling, no composition rules, and not the email.
 *
 * @example
 * ```ts
 * passwordProblem('short', 'ada@example.com') // 'password must be at least 10 characters'
 * ```
 */
export function passwordProblem(password: string, email?: string): string | null {
  const length = [...password].length
  if (length < MIN_PASSWORD_LENGTH) return `password must be at least ${MIN_PASSWORD_LENGTH} characters`
  if (length > MAX_PASSWORD_LENGTH) return `password must be at most ${MAX_PASSWORD_LENGTH} characters`
  if (password.trim().length === 0) return 'password must not be only spaces'
  if (email && password.toLowerCase() === email.toLowerCase()) return 'password must not be the email address'
  return null
}

/**
 * Hashes a password with argon2id (PHC string with salt and parameters).
 *
 * @example
 * ```ts
 * const hash = await hashPassword('correct horse battery staple')
 * ```
 */
export function hashPassword(password: string): Promise<string> {
  return inSpan(tracer, SPAN.passwordHash, undefined, () => hashingPool().hash(password, ARGON2_OPTIONS))
}

/**
 * Checks a password against a stored hash; false on mismatch or on a
 * malformed hash. A full queue rejects with {@link HashingUnavailable}: that is
 * "try later", never "wrong password".
 */
export function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  return inSpan(tracer, SPAN.passwordVerify, undefined, async (span) => {
    let match: boolean
    try {
      match = await hashingPool().verify(passwordHash, password)
    } catch (err) {
      if (err instanceof HashingUnavailable) throw err
      match = false
    }
    if (span.isRecording()) span.setAttribute(ATTR.outcome, match ? 'match' : 'mismatch')
    return match
  })
}

let dummyHash: Promise<string> | null = null

/**
 * Runs a verification of the same cost as a real one and returns false. Used
 * for unknown emails so that "no such user" and "wrong password" take the same time.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummyHash ??= hashPassword('tessera dummy password for timing')
  await verifyPassword(await dummyHash, password)
  return false
}
