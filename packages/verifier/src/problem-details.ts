import { AuthError, type AuthErrorCode, DpopNonceRequired } from '@tessera/core'

/**
 * The one mapping from an {@link AuthError} to HTTP (status, RFC 9457 problem
 * details, `WWW-Authenticate`), used alike by the auth server, every verifier
 * adapter and the gateway, so one failure reads the same wherever it is met.
 * Core knows nothing of HTTP; this is where its codes meet it.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/**
 * Every problem's `type` is this prefix and its code in kebab case
 * (`ERR_ACCESS_TOKEN_MISSING` -> `urn:tessera:error:access-token-missing`): a
 * name, not a page to fetch.
 */
export const PROBLEM_TYPE_PREFIX = 'urn:tessera:error:'

/** The code in the body when no access token was sent (not an {@link AuthError}: nothing was verified). */
export const MISSING_TOKEN_CODE = 'ERR_ACCESS_TOKEN_MISSING'

/** Codes this mapping answers with: the core's, and the missing access token. */
export type AuthProblemCode = AuthErrorCode | typeof MISSING_TOKEN_CODE

/** Status and title of every {@link AuthProblemCode}: the auth server's table starts from this one. */
export const AUTH_ERROR_HTTP: Readonly<Record<AuthProblemCode, { status: number; title: string }>> = {
  ERR_ACCESS_TOKEN_MISSING: { status: 401, title: 'Access token required' },
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
}

/**
 * Status and title of the codes for a request refused as HTTP, before any
 * route or token check ran (malformed, no such route, a URL too long): the
 * auth server's table includes these, and the gateway answers with them.
 */
export const REQUEST_ERROR_HTTP = {
  ERR_BAD_REQUEST: { status: 400, title: 'Bad request' },
  ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  ERR_URI_TOO_LONG: { status: 414, title: 'URI too long' },
} as const satisfies Record<string, { status: number; title: string }>

/** Codes of {@link REQUEST_ERROR_HTTP}. */
export type RequestErrorCode = keyof typeof REQUEST_ERROR_HTTP

/** Seconds a client should wait after a 503 from an unreachable dependency. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 1

/** The problem `type` of a code. */
export function problemType(code: string): string {
  return `${PROBLEM_TYPE_PREFIX}${code.replace(/^ERR_/, '').toLowerCase().replace(/_/g, '-')}`
}

/** An RFC 9457 body as Tessera sends it. */
export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  code: string
}

/** A whole answer: status, headers (`WWW-Authenticate`, `Retry-After`, `DPoP-Nonce`, `Cache-Control`) and body. */
export interface AuthProblem {
  status: number
  headers: Record<string, string>
  body: ProblemBody
}

/**
 * Where the error was met, which decides what it means:
 * - `resource`: a protected route checked an access token (RFC 6750 / RFC 9449 challenges);
 * - `token`: sign-in or refresh (a DPoP proof failure is 400 there, RFC 9449 sections 5 and 8; a
 *   refresh token whose session ended is 401 `ERR_SESSION_REVOKED`: sign in again);
 * - `api`: anything else (a session named in a path that does not exist is 404).
 */
export type ProblemEndpoint = 'resource' | 'token' | 'api'

/** How a refusal is challenged: the scheme the token came with, and the DPoP algorithms when DPoP is accepted. */
export interface ChallengeOptions {
  realm?: string
  /** The scheme of the refused request. Default `Bearer`. */
  scheme?: 'Bearer' | 'DPoP'
  /** Algorithms for the DPoP challenge's `algs`; null or absent when the verifier does not accept DPoP. */
  dpopAlgorithms?: readonly string[] | null
}

/** What {@link problemForAuthError} needs besides the error. */
export interface ProblemOptions extends ChallengeOptions {
  /** Default `resource`. */
  endpoint?: ProblemEndpoint
}

function realmPart(realm: string | undefined): string {
  return realm ? `realm="${realm}", ` : ''
}

function dpopChallenge(options: ChallengeOptions, error?: string): string {
  return `DPoP ${realmPart(options.realm)}${error ?? ''}algs="${(options.dpopAlgorithms ?? []).join(' ')}"`
}

/** The bare challenge of a request that sent no access token (RFC 6750 section 3.1, RFC 9449 section 7.1). */
export function missingTokenChallenge(options: ChallengeOptions = {}): string {
  const bearer = options.realm ? `Bearer realm="${options.realm}"` : 'Bearer'
  return options.dpopAlgorithms ? `${bearer}, ${dpopChallenge(options)}` : bearer
}

/** An RFC 9457 body for a code with its table title, or `title` when the code is not in {@link AUTH_ERROR_HTTP}. */
export function problemBody(code: string, detail: string, status: number, title?: string): ProblemBody {
  return { type: problemType(code), title: title ?? AUTH_ERROR_HTTP[code as AuthProblemCode]?.title ?? 'Error', status, detail, code }
}

/** 401 for a request without an access token. */
export function missingTokenProblem(options: ChallengeOptions | string = {}): AuthProblem {
  const o = typeof options === 'string' ? { realm: options } : options
  return {
    status: 401,
    headers: { 'www-authenticate': missingTokenChallenge(o), 'cache-control': 'no-store' },
    body: problemBody(MISSING_TOKEN_CODE, 'an access token is required', 401),
  }
}

// What the presented access token (or its proof) got wrong: these, and only these, are RFC 6750 invalid_token.
const TOKEN_CODES: ReadonlySet<AuthErrorCode> = new Set([
  'ERR_ACCESS_TOKEN_INVALID',
  'ERR_ACCESS_TOKEN_EXPIRED',
  'ERR_ACCESS_TOKEN_REVOKED',
  'ERR_SESSION_REVOKED',
  'ERR_DPOP_PROOF_INVALID',
  'ERR_DPOP_NONCE_REQUIRED',
  'ERR_DPOP_KEY_MISMATCH',
])

/** RFC 9449 section 7.1 and 9 error codes for what went wrong with a DPoP request. */
function dpopError(code: AuthErrorCode): string {
  if (code === 'ERR_DPOP_PROOF_INVALID') return 'invalid_dpop_proof'
  if (code === 'ERR_DPOP_NONCE_REQUIRED') return 'use_dpop_nonce'
  return 'invalid_token'
}

/**
 * The answer for an {@link AuthError}. Status comes from {@link AUTH_ERROR_HTTP};
 * only a failure of the presented access token is a 401 with
 * `error="invalid_token"` (a banned user is 403, bad input 400, a session
 * limit 409); store and key outages are 503 with `Retry-After`. Messages of
 * `AuthError`s are ours and carry no token text, so they may be shown.
 *
 * @example
 * ```ts
 * const problem = problemForAuthError(err, { endpoint: 'token' })
 * reply.code(problem.status).headers(problem.headers).type(PROBLEM_CONTENT_TYPE).send(problem.body)
 * ```
 */
export function problemForAuthError(err: AuthError, options: ProblemOptions = {}): AuthProblem {
  const endpoint = options.endpoint ?? 'resource'
  let code: AuthErrorCode = err.code
  let detail = err.message
  // The session of a refresh token ended (sign-out, expiry): to the client that is a revoked session, sign in again.
  if (endpoint === 'token' && code === 'ERR_SESSION_NOT_FOUND') {
    code = 'ERR_SESSION_REVOKED'
    detail = 'the session of this refresh token has ended; sign in again'
  }
  let status = AUTH_ERROR_HTTP[code].status
  const headers: Record<string, string> = { 'cache-control': 'no-store' }
  if (err instanceof DpopNonceRequired) headers['dpop-nonce'] = err.nonce
  const proofProblem = code === 'ERR_DPOP_PROOF_INVALID' || code === 'ERR_DPOP_NONCE_REQUIRED'
  if (status === 503) {
    headers['retry-after'] = String(UNAVAILABLE_RETRY_AFTER_SECONDS)
  } else if (endpoint === 'token' && proofProblem) {
    status = 400
  } else if (status === 401) {
    const description = detail.replace(/["\\]/g, '')
    const dpop = options.scheme === 'DPoP' || code.startsWith('ERR_DPOP_')
    if (!TOKEN_CODES.has(code)) headers['www-authenticate'] = missingTokenChallenge(options)
    else if (dpop) headers['www-authenticate'] = dpopChallenge(options, `error="${dpopError(code)}", error_description="${description}", `)
    else headers['www-authenticate'] = `Bearer ${realmPart(options.realm)}error="invalid_token", error_description="${description}"`
  }
  return { status, headers, body: problemBody(code, detail, status) }
}
