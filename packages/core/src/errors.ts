/**
 * Every failure Tessera reports on purpose is an {@link AuthError} with a stable
 * `code`. Callers switch on `err.code`; the server maps codes to HTTP statuses in
 * one table. Messages are for humans and never contain a token or a secret.
 */
export type AuthErrorCode =
  | 'ERR_ACCESS_TOKEN_INVALID'
  | 'ERR_ACCESS_TOKEN_EXPIRED'
  | 'ERR_ACCESS_TOKEN_REVOKED'
  | 'ERR_REFRESH_TOKEN_INVALID'
  | 'ERR_REFRESH_TOKEN_EXPIRED'
  | 'ERR_REFRESH_TOKEN_REUSED'
  | 'ERR_SESSION_NOT_FOUND'
  | 'ERR_SESSION_REVOKED'
  | 'ERR_SESSION_LIMIT_REACHED'
  | 'ERR_USER_BANNED'
  | 'ERR_ONE_TIME_TOKEN_INVALID'
  | 'ERR_INVALID_INPUT'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_KEYS_UNAVAILABLE'
  | 'ERR_DPOP_PROOF_INVALID'
  | 'ERR_DPOP_NONCE_REQUIRED'
  | 'ERR_DPOP_KEY_MISMATCH'

/**
 * Verdicts on a credential a client presented (token, proof, one-time token):
 * expected answers, thrown by the thousand under a flood of bad tokens, where a
 * stack trace says nothing and capturing one cost about 7 us per refusal. They
 * carry none. Errors that point at a caller's code or at an outage (bad input,
 * session limit, store or keys unavailable) keep theirs.
 */
const VERDICT_CODES: ReadonlySet<AuthErrorCode> = new Set<AuthErrorCode>([
  'ERR_ACCESS_TOKEN_INVALID',
  'ERR_ACCESS_TOKEN_EXPIRED',
  'ERR_ACCESS_TOKEN_REVOKED',
  'ERR_REFRESH_TOKEN_INVALID',
  'ERR_REFRESH_TOKEN_EXPIRED',
  'ERR_REFRESH_TOKEN_REUSED',
  'ERR_SESSION_REVOKED',
  'ERR_USER_BANNED',
  'ERR_ONE_TIME_TOKEN_INVALID',
  'ERR_DPOP_PROOF_INVALID',
  'ERR_DPOP_NONCE_REQUIRED',
  'ERR_DPOP_KEY_MISMATCH',
])

/**
 * Base class of every error Tessera throws on purpose.
 *
 * @example
 * ```ts
 * try { await auth.refreshSession(token) } catch (err) {
 *   if (err instanceof AuthError && err.code === 'ERR_REFRESH_TOKEN_REUSED') alertUser()
 * }
 * ```
 */
export class AuthError extends Error {
  /** Stable machine-readable code. */
  readonly code: AuthErrorCode

  constructor(code: AuthErrorCode, message: string, options?: { cause?: unknown }) {
    const verdict = VERDICT_CODES.has(code)
    const limit = Error.stackTraceLimit
    if (verdict) Error.stackTraceLimit = 0
    super(message, options)
    Error.stackTraceLimit = limit
    this.code = code
    this.name = new.target.name
    if (verdict) this.stack = `${this.name}: ${message}`
    // V8-only, absent in other engines; keeps the constructor out of the trace.
    else Error.captureStackTrace?.(this, new.target)
  }
}

/** The access token is malformed, has a bad signature, a disallowed alg or wrong claims. */
export class AccessTokenInvalid extends AuthError {
  constructor(message = 'access token is invalid', options?: { cause?: unknown }) {
    super('ERR_ACCESS_TOKEN_INVALID', message, options)
  }
}

/** The access token's `exp` has passed. */
export class AccessTokenExpired extends AuthError {
  constructor(message = 'access token has expired', options?: { cause?: unknown }) {
    super('ERR_ACCESS_TOKEN_EXPIRED', message, options)
  }
}

/** The access token's id was denied, or its user had all sessions revoked after it was issued. */
export class AccessTokenRevoked extends AuthError {
  constructor(message = 'access token has been revoked') {
    super('ERR_ACCESS_TOKEN_REVOKED', message)
  }
}

/** The refresh token is malformed or not one Tessera issued. */
export class RefreshTokenInvalid extends AuthError {
  constructor(message = 'refresh token is invalid') {
    super('ERR_REFRESH_TOKEN_INVALID', message)
  }
}

/** The refresh token's session passed its idle or absolute lifetime. */
export class RefreshTokenExpired extends AuthError {
  constructor(message = 'refresh token has expired') {
    super('ERR_REFRESH_TOKEN_EXPIRED', message)
  }
}

/** A superseded refresh token was presented after the grace window: the session was revoked. */
export class RefreshTokenReused extends AuthError {
  /**
   * The revoked session's device as the store held it (class and `encodeDeviceMetadata` bytes), when the store
   * returned it: the engine puts it in its `refresh_reuse_detected` event. Not enumerable, so logging the error
   * does not print the user's address.
   */
  declare readonly storedDevice?: { deviceClass: string; metadata: Buffer }

  constructor(message = 'refresh token was already used; the session has been revoked', options: { storedDevice?: { deviceClass: string; metadata: Buffer } } = {}) {
    super('ERR_REFRESH_TOKEN_REUSED', message)
    if (options.storedDevice) Object.defineProperty(this, 'storedDevice', { value: options.storedDevice, enumerable: false })
  }
}

/** No live session has that id (it never existed, expired, or was revoked). */
export class SessionNotFound extends AuthError {
  constructor(message = 'session not found') {
    super('ERR_SESSION_NOT_FOUND', message)
  }
}

/** The session was revoked. */
export class SessionRevoked extends AuthError {
  constructor(message = 'session has been revoked') {
    super('ERR_SESSION_REVOKED', message)
  }
}

/** The user is at the session limit and the policy is `deny`. */
export class SessionLimitReached extends AuthError {
  constructor(message = 'too many active sessions') {
    super('ERR_SESSION_LIMIT_REACHED', message)
  }
}

/** The user is banned; `until` is the end of the ban in epoch ms, or null when permanent. */
export class UserBanned extends AuthError {
  readonly until: number | null
  constructor(until: number | null, message = 'user is banned') {
    super('ERR_USER_BANNED', message)
    this.until = until
  }
}

/** The one-time token is unknown, used, expired, for another purpose, or out of attempts. */
export class OneTimeTokenInvalid extends AuthError {
  constructor(message = 'one-time token is invalid or has expired') {
    super('ERR_ONE_TIME_TOKEN_INVALID', message)
  }
}

/** An argument to a Tessera call is malformed (a user id too long, a bad purpose, ...). */
export class InvalidInput extends AuthError {
  constructor(message: string) {
    super('ERR_INVALID_INPUT', message)
  }
}

/** The session store could not be reached or did not answer in time. Fail closed. */
export class StoreUnavailable extends AuthError {
  constructor(message = 'session store is unavailable', options?: { cause?: unknown }) {
    super('ERR_STORE_UNAVAILABLE', message, options)
  }
}

/** The verification keys could not be fetched (an unreachable or failing JWKS URL). Fail closed. */
export class KeysUnavailable extends AuthError {
  constructor(message = 'verification keys are unavailable', options?: { cause?: unknown }) {
    super('ERR_KEYS_UNAVAILABLE', message, options)
  }
}

/**
 * A DPoP proof (RFC 9449) is missing where one is required, malformed, or fails
 * a check: type, algorithm, key, signature, method, URL, age, access-token
 * hash, or it was seen before. On the wire: `invalid_dpop_proof`.
 */
export class DpopProofInvalid extends AuthError {
  constructor(message = 'DPoP proof is invalid', options?: { cause?: unknown }) {
    super('ERR_DPOP_PROOF_INVALID', message, options)
  }
}

/**
 * Server nonces are on and the proof carries no nonce, or a stale one. `nonce`
 * is a fresh one for the client to put in its next proof (RFC 9449 section 8);
 * on the wire: `use_dpop_nonce` with a `DPoP-Nonce` header.
 */
export class DpopNonceRequired extends AuthError {
  readonly nonce: string
  constructor(nonce: string, message = 'a DPoP proof with the server nonce is required') {
    super('ERR_DPOP_NONCE_REQUIRED', message)
    this.nonce = nonce
  }
}

/**
 * The token is bound to a DPoP key and the request did not prove possession of
 * that key (no proof, the Bearer scheme, or a proof signed by another key).
 * For a refresh token this is treated as theft: the session is revoked.
 */
export class DpopKeyMismatch extends AuthError {
  constructor(message = 'the token is bound to another DPoP key') {
    super('ERR_DPOP_KEY_MISMATCH', message)
  }
}
