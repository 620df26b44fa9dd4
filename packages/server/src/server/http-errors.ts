import type { AuthError } from '@tessera/core'
import { AUTH_ERROR_HTTP, REQUEST_ERROR_HTTP, problemBody as sharedProblemBody, problemForAuthError, type AuthProblemCode, type ProblemBody, type ProblemOptions } from '@tessera/verifier'

/** Codes the server adds to the core's {@link AuthErrorCode}s. */
export type ServerErrorCode =
  | 'ERR_VALIDATION'
  | 'ERR_BAD_REQUEST'
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_REFRESH_TOKEN_MISSING'
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

export type ProblemCode = AuthProblemCode | ServerErrorCode

/**
 * The one table from error code to HTTP status and problem title: the shared
 * `AUTH_ERROR_HTTP` and `REQUEST_ERROR_HTTP` of `@tessera/verifier` (what every
 * adapter and the gateway answer) and the server's own codes.
 */
export const HTTP_ERRORS: Readonly<Record<ProblemCode, { status: number; title: string }>> = {
  ...AUTH_ERROR_HTTP,
  ...REQUEST_ERROR_HTTP,
  ERR_VALIDATION: { status: 400, title: 'Invalid request' },
  ERR_UNAUTHENTICATED: { status: 401, title: 'Authentication required' },
  ERR_REFRESH_TOKEN_MISSING: { status: 401, title: 'No refresh token' },
  ERR_INVALID_CREDENTIALS: { status: 401, title: 'Invalid email or password' },
  ERR_WRONG_PASSWORD: { status: 403, title: 'Current password is wrong' },
  ERR_EMAIL_TAKEN: { status: 409, title: 'Email already registered' },
  ERR_WEAK_PASSWORD: { status: 400, title: 'Password does not meet the policy' },
  ERR_FORBIDDEN: { status: 403, title: 'Forbidden' },
  ERR_CSRF: { status: 403, title: 'Cross-site request refused' },
  ERR_PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  ERR_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  ERR_RATE_LIMITER_UNAVAILABLE: { status: 503, title: 'Rate limiter unavailable' },
  ERR_DATABASE_UNAVAILABLE: { status: 503, title: 'User database unavailable' },
  ERR_PASSWORD_CHECKS_BUSY: { status: 503, title: 'Too many password checks at once' },
  ERR_MAIL_UNAVAILABLE: { status: 503, title: 'Mail could not be sent' },
  ERR_INTERNAL: { status: 500, title: 'Internal error' },
}

export { UNAVAILABLE_RETRY_AFTER_SECONDS } from '@tessera/verifier'

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

/** RFC 9457 body for a code, in the one dialect (`type` is `urn:tessera:error:<code>`). */
export function problemBody(code: ProblemCode, detail: string, statusOverride?: number): ProblemBody {
  const { title, status } = HTTP_ERRORS[code]
  return sharedProblemBody(code, detail, statusOverride ?? status, title)
}

/**
 * An {@link AuthError} as the shared mapping answers it (`problemForAuthError`
 * of `@tessera/verifier`: status, code, `WWW-Authenticate`, `DPoP-Nonce`),
 * for where it was met: a protected route, a token endpoint or any other route.
 */
export function authProblem(err: AuthError, options: ProblemOptions, detail?: string): HttpProblem {
  const problem = problemForAuthError(err, options)
  // Cache-Control is the security-headers hook's; everything else is the mapping's.
  const { 'cache-control': _cacheControl, ...headers } = problem.headers
  return new HttpProblem(problem.body.code as ProblemCode, detail ?? problem.body.detail, { status: problem.status, headers, cause: err })
}
