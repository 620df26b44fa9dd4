import { type AccessTokenClaims, AccessTokenInvalid, AuthError } from '@tessera/core'
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
  // Store and key outages are ours to fix, not the token's: 503, never a 401 that tells the client to sign in again.
  if (err instanceof AuthError && err.code !== 'ERR_STORE_UNAVAILABLE' && err.code !== 'ERR_KEYS_UNAVAILABLE') {
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

/**
 * The token of an `Authorization: Bearer` header: `null` when there is no
 * bearer header at all, `''` when there is one but no single token in it.
 * The token's characters are not checked here: the verifier refuses anything
 * that is not canonical base64url, and a scan here would cost every request.
 */
export function bearerToken(header: string | string[] | undefined): string | null {
  if (header === undefined) return null
  if (Array.isArray(header)) return header.length === 1 ? bearerToken(header[0]) : ''
  if (header.length < 6 || header.slice(0, 6).toLowerCase() !== 'bearer') return null
  if (header.length === 6) return ''
  if (header.charCodeAt(6) !== 32) return null
  let start = 7
  let end = header.length
  while (start < end && header.charCodeAt(start) === 32) start++
  while (end > start && header.charCodeAt(end - 1) === 32) end--
  const token = header.slice(start, end)
  return token.includes(' ') ? '' : token
}

/** What an adapter does with a request: go on with these claims, or answer with this problem. */
export type AuthOutcome = { ok: true; claims: AccessTokenClaims | null } | { ok: false; problem: AuthProblem }

/**
 * The whole decision for one request, so every adapter behaves identically.
 * Synchronous when the verifier can decide without I/O (see
 * `Verifier.verifyMaybeSync`), a promise otherwise; it never throws or
 * rejects. `optional` lets a request without any bearer token through with
 * no claims (a bad token is still refused).
 *
 * @example
 * ```ts
 * const outcome = decide(verifier, req.headers.authorization)
 * if (outcome instanceof Promise) outcome.then(apply) else apply(outcome)
 * ```
 */
export function decide(
  verifier: Pick<Verifier, 'verifyMaybeSync'>,
  authorization: string | string[] | undefined,
  options: { optional?: boolean; realm?: string } = {},
): AuthOutcome | Promise<AuthOutcome> {
  const token = bearerToken(authorization)
  if (token === null) return options.optional ? { ok: true, claims: null } : { ok: false, problem: missingTokenProblem(options.realm) }
  if (token === '') return { ok: false, problem: problemFor(new AccessTokenInvalid('authorization header is not a bearer token'), options.realm) }
  let result: AccessTokenClaims | Promise<AccessTokenClaims>
  try {
    result = verifier.verifyMaybeSync(token)
  } catch (err) {
    return { ok: false, problem: problemFor(err, options.realm) }
  }
  if (result instanceof Promise) {
    return result.then(
      (claims): AuthOutcome => ({ ok: true, claims }),
      (err: unknown): AuthOutcome => ({ ok: false, problem: problemFor(err, options.realm) }),
    )
  }
  return { ok: true, claims: result }
}

/** {@link decide}, always as a promise. */
export async function authenticate(
  verifier: Pick<Verifier, 'verifyMaybeSync'>,
  authorization: string | string[] | undefined,
  options: { optional?: boolean; realm?: string } = {},
): Promise<AuthOutcome> {
  return decide(verifier, authorization, options)
}
