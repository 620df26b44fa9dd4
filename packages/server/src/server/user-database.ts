import { EmailTaken } from '../users/user-store.js'
import { HttpProblem } from './http-errors.js'

/**
 * Wraps user-store calls so that an unreachable database answers 503 with
 * Retry-After rather than a 500. Errors the store raises on purpose pass through.
 *
 * @example
 * ```ts
 * const user = await db(() => users.findByEmail(email))
 * ```
 */
export async function db<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    if (err instanceof EmailTaken) throw err
    throw new HttpProblem('ERR_DATABASE_UNAVAILABLE', 'the user database is unavailable; try again shortly', { cause: err })
  }
}
