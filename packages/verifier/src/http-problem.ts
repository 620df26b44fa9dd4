import { type AccessTokenClaims, AccessTokenInvalid, AuthError, type DpopPresentation } from '@tessera/core'
import { missingTokenProblem, problemBody, problemForAuthError, UNAVAILABLE_RETRY_AFTER_SECONDS, type AuthProblem, type ChallengeOptions } from './problem-details.js'
import { RevocationLogSilent, type Verifier } from './verifier.js'

/**
 * Maps what the verifier threw to an answer on a protected route (see
 * `problemForAuthError`, the one mapping the auth server and the gateway use
 * too). Anything that is not an {@link AuthError} is a fault on our side, not
 * a bad token: it fails closed with 503, never 2xx and never a 500 with a
 * stack. A refused DPoP request (or any DPoP error) gets a `DPoP` challenge
 * with the RFC 9449 error code, and `DPoP-Nonce` when a nonce is required.
 *
 * @example
 * ```ts
 * const problem = problemFor(err, { scheme: 'DPoP', dpopAlgorithms: ['ES256'] })
 * res.status(problem.status).set(problem.headers).type(PROBLEM_CONTENT_TYPE).send(problem.body)
 * ```
 */
export function problemFor(err: unknown, options: ChallengeOptions | string = {}): AuthProblem {
  const o = typeof options === 'string' ? { realm: options } : options
  if (err instanceof AuthError) {
    const problem = problemForAuthError(err, { ...o, endpoint: 'resource' })
    // Outage messages may describe our setup; the silent-log one is ours, names no configuration and tells an operator what to look at.
    if (problem.status === 503) problem.body.detail = err instanceof RevocationLogSilent ? `${err.message}; try again shortly` : 'revocation state cannot be checked right now; try again shortly'
    return problem
  }
  return {
    status: 503,
    headers: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS), 'cache-control': 'no-store' },
    body: problemBody('ERR_STORE_UNAVAILABLE', 'revocation state cannot be checked right now; try again shortly', 503),
  }
}

/**
 * The token of an `Authorization` header with its scheme (`Bearer` or `DPoP`,
 * any case): null when there is no such header at all, a credential with an
 * empty token when there is one but no single token in it. The token's
 * characters are not checked here: the verifier refuses anything that is not
 * canonical base64url, and a scan here would cost every request.
 */
export function credentialsOf(header: string | string[] | undefined): { scheme: 'Bearer' | 'DPoP'; token: string } | null {
  if (header === undefined) return null
  if (Array.isArray(header)) return header.length === 1 ? credentialsOf(header[0]) : { scheme: 'Bearer', token: '' }
  const space = header.indexOf(' ')
  const name = (space < 0 ? header : header.slice(0, space)).toLowerCase()
  const scheme = name === 'bearer' ? 'Bearer' : name === 'dpop' ? 'DPoP' : null
  if (scheme === null) return null
  let start = space < 0 ? header.length : space + 1
  let end = header.length
  while (start < end && header.charCodeAt(start) === 32) start++
  while (end > start && header.charCodeAt(end - 1) === 32) end--
  const token = header.slice(start, end)
  return { scheme, token: token.includes(' ') ? '' : token }
}

/**
 * The token of an `Authorization: Bearer` header: `null` when there is no
 * bearer header at all, `''` when there is one but no single token in it.
 */
export function bearerToken(header: string | string[] | undefined): string | null {
  const credentials = credentialsOf(header)
  return credentials?.scheme === 'Bearer' ? credentials.token : null
}

/**
 * What an adapter does with a request: go on with these claims, or answer with this problem. A refusal of a presented
 * token also carries what the verifier threw (`error`), for the operator's log: a 503's answer is generic on purpose,
 * while the error says what failed (which deadline passed, and how long it waited). It is never sent.
 */
export type AuthOutcome = { ok: true; claims: AccessTokenClaims | null } | { ok: false; problem: AuthProblem; error?: unknown }

/** What the decision needs of a request. Adapters fill it from their framework's request. */
export interface AuthRequest {
  authorization: string | string[] | undefined
  /** The `DPoP` header(s). */
  dpop?: string | string[] | undefined
  /** HTTP method, upper case as sent. */
  method: string
  /**
   * Absolute URL the client addressed: scheme and host as the framework
   * reports them (which follows `X-Forwarded-Proto`/`-Host` only when the app
   * trusts its proxy), then the path; the query is ignored.
   */
  url: string
}

/** The verifier as the decision uses it. */
export type DecidingVerifier = Pick<Verifier, 'verifyMaybeSync' | 'dpopAlgorithms'>

/**
 * The whole decision for one request, so every adapter behaves identically.
 * Synchronous when the verifier can decide without I/O (a bearer token from
 * the caches; see `Verifier.verifyMaybeSync`), a promise otherwise (a store
 * check, a key fetch, a DPoP proof's replay check); it never throws or
 * rejects. `optional` lets a request without any token through with no claims
 * (a bad token is still refused). Passing only the `Authorization` header
 * (the pre-DPoP form) still works for bearer tokens; DPoP needs the request.
 *
 * @example
 * ```ts
 * const outcome = decide(verifier, { authorization: req.headers.authorization, dpop: req.headers.dpop, method: req.method, url })
 * if (outcome instanceof Promise) outcome.then(apply) else apply(outcome)
 * ```
 */
export function decide(
  verifier: DecidingVerifier,
  request: AuthRequest | string | string[] | undefined,
  options: { optional?: boolean; realm?: string } = {},
): AuthOutcome | Promise<AuthOutcome> {
  const req: AuthRequest = typeof request === 'object' && !Array.isArray(request) ? request : { authorization: request, method: '', url: '' }
  const challenge: ChallengeOptions = { realm: options.realm, dpopAlgorithms: verifier.dpopAlgorithms }
  const credentials = credentialsOf(req.authorization)
  if (credentials === null) return options.optional ? { ok: true, claims: null } : { ok: false, problem: missingTokenProblem(challenge) }
  challenge.scheme = credentials.scheme
  const refuse = (err: unknown): AuthOutcome => ({ ok: false, problem: problemFor(err, challenge), error: err })
  const { token } = credentials
  if (token === '') return refuse(new AccessTokenInvalid(`authorization header is not a ${credentials.scheme} token`))
  // The presentation (scheme, DPoP proof) is checked with the token: its binding is in the token.
  const presentation: DpopPresentation | null = credentials.scheme === 'DPoP' ? { proof: req.dpop, method: req.method, url: req.url } : null
  try {
    const result = verifier.verifyMaybeSync(token, presentation)
    if (result instanceof Promise) return result.then((claims): AuthOutcome => ({ ok: true, claims }), refuse)
    return { ok: true, claims: result }
  } catch (err) {
    return refuse(err)
  }
}

/** {@link decide}, always as a promise. */
export async function authenticate(
  verifier: DecidingVerifier,
  request: AuthRequest | string | string[] | undefined,
  options: { optional?: boolean; realm?: string } = {},
): Promise<AuthOutcome> {
  return decide(verifier, request, options)
}
