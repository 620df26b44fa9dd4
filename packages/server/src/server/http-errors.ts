import type { AuthErrorCode } from '@tessera/core'

/** Codes the server adds to the core's {@link AuthErrorCode}s. */
export type ServerErrorCode =
  | 'ERR_VALIDATION'
  | 'ERR_BAD_REQUEST'
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_INVALID_CREDENTIALS'
  | 'ERR_WRONG_PASSWORD'
  | 'ERR_EMAIL_TAKEN'
  | 'ERR_WEAK_PASSWORD'
  | 'ERR_FORBIDDEN'
  | 'ERR_CSRF'
  | 'ERR_NOT_FOUND'
  | 'ERR_URI_TOO_LONG'
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'ERR_RATE_LIMITED'
  | 'ERR_RATE_LIMITER_UNAVAILABLE'
  | 'ERR_DATABASE_UNAVAILABLE'
  | 'ERR_PASSWORD_CHECKS_BUSY'
  | 'ERR_MAIL_UNAVAILABLE'
  | 'ERR_INTERNAL'

export type ProblemCode = AuthErrorCode | ServerErrorCode

/** The one table from error code to HTTP status and problem title. */
export const HTTP_ERRORS: Readonly<Record<ProblemCode, { status: number; title: string }>> = {
  ERR_ACCESS_TOKEN_INVALID: { status: 401, title: 'Invalid access token' },
  ERR_ACCESS_TOKEN_EXPIRED: { status: 401, title: 'Access token expired' },
  ERR_ACCESS_TOKEN_REVOKED: { status: 401, title: 'Access token revoked' },
  ERR_REFRESH_TOKEN_INVALID: { status: 401, title: 'Invalid refresh token' },
  ERR_REFRESH_TOKEN_EXPIRED: { status: 401, title: 'Refresh token expired' },
  ERR_REFRESH_TOKEN_REUSED: { status: 401, title: 'Refresh token reused' },
  ERR_SESSION_NOT_FOUND: { status: 404, title: 'Session not found' },
  ERR_SESSION_REVOKED: { status: 401, title: 'Session revoked' },
  ERR_SESSION_LIMIT_REACHED: { status: 409, title: 'Too many sessions' },
  ERR_USER_BANNED: { status: 403, title: 'User banned' },
  ERR_ONE_TIME_TOKEN_INVALID: { status: 400, title: 'Invalid or expired token' },
  ERR_INVALID_INPUT: { status: 400, title: 'Invalid input' },
  ERR_STORE_UNAVAILABLE: { status: 503, title: 'Session store unavailable' },
  ERR_KEYS_UNAVAILABLE: { status: 503, title: 'Verification keys unavailable' },
  ERR_DPOP_PROOF_INVALID: { status: 401, title: 'Invalid DPoP proof' },
  ERR_DPOP_NONCE_REQUIRED: { status: 401, title: 'DPoP nonce required' },
  ERR_DPOP_KEY_MISMATCH: { status: 401, title: 'DPoP key mismatch' },
  ERR_VALIDATION: { status: 400, title: 'Invalid request' },
  ERR_BAD_REQUEST: { status: 400, title: 'Bad request' },
  ERR_UNAUTHENTICATED: { status: 401, title: 'Authentication required' },
  ERR_INVALID_CREDENTIALS: { status: 401, title: 'Invalid email or password' },
  ERR_WRONG_PASSWORD: { status: 403, title: 'Current password is wrong' },
  ERR_EMAIL_TAKEN: { status: 409, title: 'Email already registered' },
  ERR_WEAK_PASSWORD: { status: 400, title: 'Password does not meet the policy' },
  ERR_FORBIDDEN: { status: 403, title: 'Forbidden' },
  ERR_CSRF: { status: 403, title: 'Cross-site request refused' },
  ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  ERR_URI_TOO_LONG: { status: 414, title: 'URI too long' },
  ERR_PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  ERR_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  ERR_RATE_LIMITER_UNAVAILABLE: { status: 503, title: 'Rate limiter unavailable' },
  ERR_DATABASE_UNAVAILABLE: { status: 503, title: 'User database unavailable' },
  ERR_PASSWORD_CHECKS_BUSY: { status: 503, title: 'Too many password checks at once' },
  ERR_MAIL_UNAVAILABLE: { status: 503, title: 'Mail could not be sent' },
  ERR_INTERNAL: { status: 500, title: 'Internal error' },
}

/** Seconds a client should wait after a 503 from an unreachable dependency. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 1

/**
 * An error a route throws to answer with a problem+json body.
 *
 * @example
 * ```ts
 * throw new HttpProblem('ERR_RATE_LIMITED', 'try again later', { headers: { 'retry-after': '30' } })
 * ```
 */
export class HttpProblem extends Error {
  readonly code: ProblemCode
  readonly status: number
  readonly headers: Record<string, string>

  /** `status` overrides the table where one code has two meanings (a DPoP proof: 400 at sign-in and refresh, 401 on a protected route). */
  constructor(code: ProblemCode, detail?: string, options: { headers?: Record<string, string>; cause?: unknown; status?: number } = {}) {
    super(detail ?? HTTP_ERRORS[code].title, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'HttpProblem'
    this.code = code
    this.status = options.status ?? HTTP_ERRORS[code].status
    this.headers = options.headers ?? {}
  }
}

/** RFC 9457 body for a code. */
export function problemBody(code: ProblemCode, detail: string, statusOverride?: number): { type: string; title: string; status: number; detail: string; code: ProblemCode } {
  const { title } = HTTP_ERRORS[code]
  const status = statusOverride ?? HTTP_ERRORS[code].status
  return { type: `urn:tessera:error:${code.slice(4).toLowerCase().replace(/_/g, '-')}`, title, status, detail, code }
}
