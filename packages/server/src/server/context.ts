import type { DeadDelivery, Tessera } from '@tessera/core'
import type { Mailer } from '../mail/mailer.js'
import type { UserStore } from '../users/user-store.js'
import type { DeviceCookies } from './device-cookie.js'
import type { LoginLockout } from './login-lockout.js'
import type { ServerMetrics } from './metrics.js'
import type { RateLimiter, RateLimitRule } from './rate-limiter.js'

/** The rate limits the server applies. */
export interface RateLimits {
  loginPerIp: RateLimitRule
  /** Failed sign-ins per account from unknown clients, and per known device (lockout with back-off). */
  loginPerAccount: RateLimitRule
  refreshPerIp: RateLimitRule
  /** Register, password-reset and verification requests: things that send mail or create rows. */
  sensitivePerIp: RateLimitRule
  /** Mails one account receives unasked (reset links, "someone tried to register"): a daily cap. */
  mailPerAccount: RateLimitRule
  /** Failed OAuth client authentications (wrong Basic secret) per client address (lockout with back-off). */
  clientAuthPerIp: RateLimitRule
  /** Failed OAuth client authentications per client id, from anywhere (fixed window, no back-off). */
  clientAuthPerClient: RateLimitRule
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  loginPerIp: { max: 30, windowSeconds: 60 },
  loginPerAccount: { max: 5, windowSeconds: 60 },
  refreshPerIp: { max: 120, windowSeconds: 60 },
  sensitivePerIp: { max: 10, windowSeconds: 60 },
  mailPerAccount: { max: 5, windowSeconds: 24 * 3600 },
  clientAuthPerIp: { max: 10, windowSeconds: 60 },
  clientAuthPerClient: { max: 30, windowSeconds: 60 },
}

/** What every route needs, built once in `buildApp`. */
export interface ServerContext {
  auth: Tessera
  users: UserStore
  mailer: Mailer
  metrics: ServerMetrics
  limiter: RateLimiter
  rateLimits: RateLimits
  /**
   * Limiter key part for a personal value (an email): a MAC under a key derived
   * from the token key, so the limiter's store never holds the value nor a
   * hash anyone can recompute from a list of addresses.
   */
  limiterKey(value: string): string
  /** Failed sign-ins per account (unknown clients) or per known device. */
  loginLockout: LoginLockout
  /** Signed cookies that mark a browser which once signed in to an account. */
  deviceCookies: DeviceCookies
  /** Base of links in mail, e.g. https://auth.example (no trailing slash). */
  publicUrl: string
  /** Null: admin routes are off. */
  adminToken: string | null
  /** Client id -> secret for introspection and revocation. */
  clients: ReadonlyMap<string, string>
  cookieSecure: boolean
  passwordResetTtlSeconds: number
  emailVerificationTtlSeconds: number
  /**
   * Runs work after the response (mail that must not reveal, by timing, whether
   * an account exists). Failures are logged; app.close() waits for it.
   */
  background(name: string, work: () => Promise<void>): void
  /** Security events the routes raise themselves (the engine's own are followed directly). No-ops without webhooks or mail. */
  securityEvents: {
    passwordChanged(userId: string, how: 'changed' | 'reset'): void
    /** Webhook dead letters, newest first; empty without webhooks. */
    deadLetters(limit: number): Promise<DeadDelivery[]>
  }
  /** Persists the key set after an admin rotation; null when keys came from the environment. */
  saveKeys: (() => Promise<void>) | null
}
