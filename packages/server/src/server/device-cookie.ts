import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** Cookie name and path: only the sign-in route ever receives it. */
export const DEVICE_COOKIE = 'tessera_device'
export const DEVICE_COOKIE_PATH = '/auth/login'
/** How long a browser stays known after its last successful sign-in. */
export const DEVICE_COOKIE_MAX_AGE_SECONDS = 180 * 24 * 3600

const VERSION = 'd1'

/**
 * OWASP's "device cookies" (Slow Down Online Guessing Attacks with Device
 * Cookies): a successful sign-in leaves a signed cookie naming the account and
 * a random device id. A later sign-in that presents it is from a browser that
 * once knew the password, so a stranger's failed guesses (which lock the
 * account for unknown clients) do not lock this browser out; its own failures
 * are counted under its device id. The cookie holds no email: the tag binds
 * it to the address the sign-in names.
 *
 * @example
 * ```ts
 * const cookies = new DeviceCookies(auth.deriveKey('device cookies v1'))
 * const value = cookies.issue('ada@example.com', Date.now())
 * cookies.verify(value, 'ada@example.com', Date.now()) // the device id
 * ```
 */
export class DeviceCookies {
  readonly #key: Buffer

  constructor(key: Buffer) {
    if (key.length < 32) throw new TypeError('"key" must be at least 32 bytes')
    this.#key = key
  }

  #tag(email: string, issued: string, deviceId: string): Buffer {
    return createHmac('sha256', this.#key).update(`${VERSION}\0${email}\0${issued}\0${deviceId}`).digest().subarray(0, 16)
  }

  /** A new cookie value for a browser that just signed in as `email`. */
  issue(email: string, nowMs: number): string {
    const issued = Math.floor(nowMs / 1000).toString(36)
    const deviceId = randomBytes(16).toString('base64url')
    return `${VERSION}.${issued}.${deviceId}.${this.#tag(email, issued, deviceId).toString('base64url')}`
  }

  /** The device id when `value` is a cookie this server issued for `email` within the maximum age, else null. */
  verify(value: string | undefined, email: string, nowMs: number): string | null {
    if (typeof value !== 'string' || value.length > 100) return null
    const match = /^d1\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$/.exec(value)
    if (!match) return null
    const [, issued, deviceId, tag] = match as unknown as [string, string, string, string]
    const ageSeconds = nowMs / 1000 - parseInt(issued, 36)
    if (!(ageSeconds >= -300 && ageSeconds <= DEVICE_COOKIE_MAX_AGE_SECONDS)) return null
    const given = Buffer.from(tag, 'base64url')
    // Spare bits of the last character would let one tag be spelled several ways.
    if (given.toString('base64url') !== tag) return null
    return timingSafeEqual(given, this.#tag(email, issued, deviceId)) ? deviceId : null
  }
}
