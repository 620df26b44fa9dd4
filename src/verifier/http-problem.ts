import type { AccessTokenClaims } from '../core/access-token.js'
import { AccessTokenInvalid, AuthError } from '../core/errors.js'
import type { Verifier } from './verifier.js'

/**
 * The HTTP answer for a request a verifier refused, shared by every adapter so
 * Fastify and Express answer alike: 401 with an RFC 6750 challenge for a
 * missing or bad token, 503 when revocation state cannot be read. Bodies are
 * RFC 9457 problem details and never echo the token.
 */
export interface AuthProblem {
  status: 401 | 503
  headers: Record<string, string>
  body: { type: string; title: string; status: number; detail: string; code: string }
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** The code in the body when no bearer token was sent (not an {@link AuthError}: nothing was verified). */
export const MISSING_TOKEN_CODE = 'ERR_ACCESS_TOKEN_MISSING'

const TYPE_BASE = 'https://tessera.dev/problems/'

/** 401 for a request without a bearer token: a bare challenge, as RFC 6750 section 3.1 asks. */
export function missingTokenProblem(realm?: string): AuthProblem {
  return {
    status: 401,
    headers: { 'www-authenticate': realm ? `Bearer realm="${realm}"` : 'Bearer', 'cache-control': 'no-store' },
    body: { type: `${TYPE_BASE}missing-token`, title: 'Unauthorized', status: 401, detail: 'a bearer access token is required', code: MISSING_TOKEN_CODE },
  }
}

/**
 * Maps what `verifier.verify` threw to an answer. Anything that is not an
 * {@link AuthError} is a fault on our side, not a bad token: it fails closed
 * with 503, never 2xx and never a 500 with a stack.
 *
 * @example
 * ```ts
 * const problem = problemFor(err)
 * res.status(problem.status).set(problem.headers).type(PROBLEM_CONTENT_TYPE).send(problem.body)
 * ```
 */
export function problemFor(err: unknown, realm?: string): AuthProblem {
  if (err instanceof AuthError && err.code !== 'ERR_STORE_UNAVAILABLE') {
    const realmPart = realm ? `realm="${realm}", ` : ''
    // The message is one of ours and carries no token text, so it may go into the challenge and the body.
    const description = err.message.replace(/["\\]/g, '')
    return {
      status: 401,
      headers: { 'www-authenticate': `Bearer ${realmPart}error="invalid_token", error_description="${description}"`, 'cache-control': 'no-store' },
      body: { type: `${TYPE_BASE}invalid-token`, title: 'Unauthorized', status: 401, detail: err.message, code: err.code },
    }
  }
  return {
    status: 503,
    headers: { 'retry-after': '1', 'cache-control': 'no-store' },
    body: {
      type: `${TYPE_BASE}auth-unavailable`,
      title: 'Service Unavailable',
      status: 503,
      detail: 'revocation state cannot be checked right now; try again shortly',
      code: 'ERR_STORE_UNAVAILABLE',
    },
  }
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i

/**
 * The token of an `Authorization: Bearer` header: `null` when there is no
 * bearer header at all, `''` when there is one but its value is not a token.
 */
export function bearerToken(header: string | string[] | undefined): string | null {
  if (header === undefined) return null
  const value = Array.isArray(header) ? (header.length === 1 ? header[0]! : '') : header
  if (!/^bearer\b/i.test(value)) return Array.isArray(header) && header.length > 1 ? '' : null
  return BEARER.exec(value)?.[1] ?? ''
}

/** What an adapter does with a request: go on with these claims, or answer with this problem. */
export type AuthOutcome = { ok: true; claims: AccessTokenClaims } | { ok: false; problem: AuthProblem }

/**
 * The whole decision for one request, so every adapter behaves identically:
 * `optional` lets a request without any bearer token through with no claims
 * (a bad token is still refused).
 *
 * @example
 * ```ts
 * const outcome = await authenticate(verifier, req.headers.authorization, { optional: false })
 * ```
 */
export async function authenticate(
  verifier: Pick<Verifier, 'verify'>,
  authorization: string | string[] | undefined,
  options: { optional?: boolean; realm?: string } = {},
): Promise<AuthOutcome | { ok: true; claims: null }> {
  const token = bearerToken(authorization)
  if (token === null) return options.optional ? { ok: true, claims: null } : { ok: false, problem: missingTokenProblem(options.realm) }
  if (token === '') return { ok: false, problem: problemFor(new AccessTokenInvalid('authorization header is not a bearer token'), options.realm) }
  try {
    return { ok: true, claims: await verifier.verify(token) }
  } catch (err) {
    return { ok: false, problem: problemFor(err, options.realm) }
  }
}
