import { type AccessTokenClaims, AccessTokenInvalid, AuthError, DpopNonceRequired, type DpopPresentation } from '@tessera/core'
import { RevocationLogSilent, type Verifier } from './verifier.js'

/**
 * The HTTP answer for a request a verifier refused, shared by every adapter so
 * they all answer alike: 401 with an RFC 6750 (Bearer) or RFC 9449 (DPoP)
 * challenge for a missing or bad token or proof, 503 when revocation state
 * cannot be read. Bodies are RFC 9457 problem details and never echo the token.
 */
export interface AuthProblem {
  status: 401 | 503
  headers: Record<string, string>
  body: { type: string; title: string; status: number; detail: string; code: string }
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** The code in the body when no access token was sent (not an {@link AuthError}: nothing was verified). */
export const MISSING_TOKEN_CODE = 'ERR_ACCESS_TOKEN_MISSING'

const TYPE_BASE = 'https://tessera.dev/problems/'

/** How a refusal is challenged: the scheme the token came with, and the DPoP algorithms when DPoP is accepted. */
export interface ChallengeOptions {
  realm?: string
  /** The scheme of the refused request. Default `Bearer`. */
  scheme?: 'Bearer' | 'DPoP'
  /** Algorithms for the DPoP challenge's `algs`; null or absent when the verifier does not accept DPoP. */
  dpopAlgorithms?: readonly string[] | null
}

function realmPart(realm: string | undefined): string {
  return realm ? `realm="${realm}", ` : ''
}

function dpopChallenge(options: ChallengeOptions, error?: string): string {
  return `DPoP ${realmPart(options.realm)}${error ?? ''}algs="${(options.dpopAlgorithms ?? []).join(' ')}"`
}

/** 401 for a request without an access token: bare challenges, as RFC 6750 section 3.1 and RFC 9449 section 7.1 ask. */
export function missingTokenProblem(options: ChallengeOptions | string = {}): AuthProblem {
  const o = typeof options === 'string' ? { realm: options } : options
  const bearer = o.realm ? `Bearer realm="${o.realm}"` : 'Bearer'
  return {
    status: 401,
    headers: { 'www-authenticate': o.dpopAlgorithms ? `${bearer}, ${dpopChallenge(o)}` : bearer, 'cache-control': 'no-store' },
    body: { type: `${TYPE_BASE}missing-token`, title: 'Unauthorized', status: 401, detail: 'an access token is required', code: MISSING_TOKEN_CODE },
  }
}

/** RFC 9449 section 7.1 and 9 error codes for what went wrong with a DPoP request. */
function dpopError(err: AuthError): string {
  if (err.code === 'ERR_DPOP_PROOF_INVALID') return 'invalid_dpop_proof'
  if (err.code === 'ERR_DPOP_NONCE_REQUIRED') return 'use_dpop_nonce'
  return 'invalid_token'
}

/**
 * Maps what the verifier threw to an answer. Anything that is not an
 * {@link AuthError} is a fault on our side, not a bad token: it fails closed
 * with 503, never 2xx and never a 500 with a stack. A refused DPoP request
 * (or any DPoP error) gets a `DPoP` challenge with the RFC 9449 error code,
 * and `DPoP-Nonce` when a nonce is required.
 *
 * @example
 * ```ts
 * const problem = problemFor(err, { scheme: 'DPoP', dpopAlgorithms: ['ES256'] })
 * res.status(problem.status).set(problem.headers).type(PROBLEM_CONTENT_TYPE).send(problem.body)
 * ```
 */
export function problemFor(err: unknown, options: ChallengeOptions | string = {}): AuthProblem {
  const o = typeof options === 'string' ? { realm: options } : options
  // Store and key outages are ours to fix, not the token's: 503, never a 401 that tells the client to sign in again.
  if (err instanceof AuthError && err.code !== 'ERR_STORE_UNAVAILABLE' && err.code !== 'ERR_KEYS_UNAVAILABLE') {
    // The message is one of ours and carries no token text, so it may go into the challenge and the body.
    const description = err.message.replace(/["\\]/g, '')
    const dpop = o.scheme === 'DPoP' || err.code.startsWith('ERR_DPOP_')
    const headers: Record<string, string> = {
      'www-authenticate': dpop
        ? dpopChallenge(o, `error="${dpopError(err)}", error_description="${description}", `)
        : `Bearer ${realmPart(o.realm)}error="invalid_token", error_description="${description}"`,
      'cache-control': 'no-store',
    }
    if (err instanceof DpopNonceRequired) headers['dpop-nonce'] = err.nonce
    const type = dpop && err.code !== 'ERR_DPOP_KEY_MISMATCH' && err.code.startsWith('ERR_DPOP_') ? 'invalid-dpop-proof' : 'invalid-token'
    return { status: 401, headers, body: { type: `${TYPE_BASE}${type}`, title: 'Unauthorized', status: 401, detail: err.message, code: err.code } }
  }
  return {
    status: 503,
    headers: { 'retry-after': '1', 'cache-control': 'no-store' },
    body: {
      type: `${TYPE_BASE}auth-unavailable`,
      title: 'Service Unavailable',
      status: 503,
      // The silent-log message is ours and names no configuration; it tells an operator what to look at.
      detail: err instanceof RevocationLogSilent ? `${err.message}; try again shortly` : 'revocation state cannot be checked right now; try again shortly',
      code: 'ERR_STORE_UNAVAILABLE',
    },
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

/** What an adapter does with a request: go on with these claims, or answer with this problem. */
export type AuthOutcome = { ok: true; claims: AccessTokenClaims | null } | { ok: false; problem: AuthProblem }

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
export type DecidingVerifier = Pick<Verifier, 'verifyMaybeSync' | 'checkPresentation' | 'dpopAlgorithms'>

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
  const refuse = (err: unknown): AuthOutcome => ({ ok: false, problem: problemFor(err, challenge) })
  const { token } = credentials
  if (token === '') return refuse(new AccessTokenInvalid(`authorization header is not a ${credentials.scheme} token`))
  const presentation: DpopPresentation | null = credentials.scheme === 'DPoP' ? { proof: req.dpop, method: req.method, url: req.url } : null
  // The presentation (scheme, DPoP proof) is checked after the token: its binding is in the token.
  const present = (claims: AccessTokenClaims): AuthOutcome | Promise<AuthOutcome> => {
    const pending = verifier.checkPresentation(claims, token, presentation)
    if (pending === undefined) return { ok: true, claims }
    return pending.then((): AuthOutcome => ({ ok: true, claims }), refuse)
  }
  try {
    const result = verifier.verifyMaybeSync(token)
    if (result instanceof Promise) {
      return result.then((claims) => {
        try {
          return present(claims)
        } catch (err) {
          return refuse(err)
        }
      }, refuse)
    }
    return present(result)
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
