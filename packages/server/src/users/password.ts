import argon2 from 'argon2'

/**
 * OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1. argon2's
 * native binding hashes on the libuv thread pool, so the event loop stays free.
 */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

/**
 * argon2 hashes on the libuv thread pool (4 threads by default), which also
 * serves fs, zlib, dns and WebCrypto. Fifty logins at once would fill every
 * thread for seconds and stall everything else that needs one, so at most
 * pool size - 1 hashes run at once (the rest wait their turn in JS, in order).
 */
const MAX_CONCURRENT_HASHES = Math.max(1, (Number(process.env.UV_THREADPOOL_SIZE) || 4) - 1)
let running = 0
const waiting: (() => void)[] = []

async function limited<T>(work: () => Promise<T>): Promise<T> {
  // A finishing hash hands its slot straight to the next waiter, so `running` never overshoots.
  if (running >= MAX_CONCURRENT_HASHES) await new Promise<void>((resolve) => waiting.push(resolve))
  else running++
  try {
    return await work()
  } finally {
    const next = waiting.shift()
    if (next) next()
    else running--
  }
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
  return limited(() => argon2.hash(password, ARGON2_OPTIONS))
}

/** Checks a password against a stored hash; false on mismatch or on a malformed hash. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await limited(() => argon2.verify(passwordHash, password))
  } catch {
    return false
  }
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
