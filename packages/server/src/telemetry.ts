import { tesseraTracer } from '@tessera/core/internal'

/**
 * Spans of the auth server (`@tessera/server`); the engine's and the store's spans become their children.
 * Typed through core's helper, so the server's published types name no `@opentelemetry/api` (core
 * declares that peer; the server never imports it).
 */
export const tracer: ReturnType<typeof tesseraTracer> = tesseraTracer('@tessera/server')

/** The server's spans: the HTTP flows that take time (argon2id) or can fail, around the engine's own spans. */
export const SPAN = {
  /** `POST /auth/login`: email check, lockout, password check, session create. */
  signIn: 'tessera.sign_in',
  /** `POST /auth/register`. */
  register: 'tessera.register',
  /** `POST /auth/password`: the current password checked, the new one hashed, other sessions ended. */
  passwordChange: 'tessera.password.change',
  /** `POST /auth/password-reset/confirm`: the mailed token consumed, the new password hashed, every session ended. */
  passwordReset: 'tessera.password.reset',
  /** One argon2id hash in the hashing pool. */
  passwordHash: 'tessera.password.hash',
  /** One argon2id verification (for an unknown email too, against a dummy hash: the same span, as the same time and answer). */
  passwordVerify: 'tessera.password.verify',
} as const
