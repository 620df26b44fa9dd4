import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { PROBLEM_CONTENT_TYPE, decide, type AuthOutcome, type AuthRequest, type DecidingVerifier } from '@tessera/verifier'
import { originalRequest } from './forwarded-request.js'
import { identityHeaders, resolveIdentityHeaders, type IdentityHeaderOptions, type ResolvedIdentityHeaders } from './identity-headers.js'

/** Decisions since start, read by the metrics at scrape time (plain numbers: nothing to allocate per request). */
export class ForwardAuthCounts {
  allowed = 0
  refused = 0
  unavailable = 0
}

/** Options of {@link registerForwardAuth}. */
export interface ForwardAuthOptions {
  /** The cached verifier that decides (any mode works; `cached` is the one that follows revocations without a store read). */
  verifier: DecidingVerifier
  /** Path the proxy calls. Paths under it answer too (Envoy prepends its `path_prefix` to the original path). Default `/forward-auth`. */
  path?: string
  headers?: IdentityHeaderOptions
  /** `realm` of the `WWW-Authenticate` challenge. */
  realm?: string
  counts?: ForwardAuthCounts
}

export const DEFAULT_FORWARD_AUTH_PATH = '/forward-auth'

function resolvePath(path: string | undefined): string {
  const value = path ?? DEFAULT_FORWARD_AUTH_PATH
  if (typeof value !== 'string' || !/^\/[A-Za-z0-9._~\/-]*[A-Za-z0-9._~-]$/.test(value)) throw new TypeError('"path" option must be an absolute URL path without a trailing slash')
  return value
}

function answer(reply: FastifyReply, outcome: AuthOutcome, headers: ResolvedIdentityHeaders, counts: ForwardAuthCounts): void {
  if (outcome.ok) {
    counts.allowed++
    // decide() without `optional` gives claims whenever ok is true.
    reply.code(200).headers(identityHeaders(outcome.claims!, headers)).header('cache-control', 'no-store').send()
    return
  }
  const { problem } = outcome
  if (problem.status === 503) counts.unavailable++
  else counts.refused++
  reply.code(problem.status).headers(problem.headers).type(PROBLEM_CONTENT_TYPE).send(problem.body)
}

/**
 * What the decision needs of a forward-auth call. A DPoP proof is checked
 * against the ORIGINAL request (RFC 9449 `htm`/`htu`), as the proxy passes
 * it: method and path from `X-Forwarded-Method`/`-Uri` (NGINX with the
 * documented config, Traefik) or from the call itself (Envoy keeps the method
 * and prepends its path prefix), scheme and host from `X-Forwarded-Proto`/
 * `-Host`, else the call's own. Without a `DPoP` header no proof can pass, so
 * a bearer request skips the work.
 */
function authRequest(request: FastifyRequest, prefix: string): AuthRequest {
  const { authorization, dpop } = request.headers
  if (dpop === undefined) return { authorization, method: '', url: '' }
  const original = originalRequest(request.method, request.url, request.headers, prefix)
  return { authorization, dpop, method: original.method, url: `${original.proto ?? request.protocol}://${original.host ?? request.host}${original.uri}` }
}

/**
 * Adds the forward-auth endpoint to a Fastify instance, for every method: 200
 * with identity headers for a live token; 401 with `WWW-Authenticate: Bearer`
 * (and problem+json) otherwise; 503 when revocation state cannot be read,
 * never a 2xx. It answers NGINX `auth_request`, Traefik `forwardAuth` and
 * Envoy `ext_authz` (HTTP service) alike: all three send the client's
 * `Authorization` header, and only 2xx lets the request through.
 *
 * @example
 * ```ts
 * registerForwardAuth(app, { verifier, path: '/auth/forward', headers: { claims: { scope: 'X-Tessera-Scope' } } })
 * ```
 */
export function registerForwardAuth(app: FastifyInstance, options: ForwardAuthOptions): ResolvedIdentityHeaders {
  const { verifier, realm } = options
  if (!verifier || typeof verifier.verifyMaybeSync !== 'function') throw new TypeError('"verifier" option is required')
  const path = resolvePath(options.path)
  const headers = resolveIdentityHeaders(options.headers)
  const counts = options.counts ?? new ForwardAuthCounts()
  const decideOptions = { realm }
  // Callback style, not async: a token decided from the verifier's caches costs no promise.
  const handler = (request: FastifyRequest, reply: FastifyReply): void => {
    const outcome = decide(verifier, authRequest(request, path), decideOptions)
    if (outcome instanceof Promise) {
      // decide() never rejects; a throw here would be Fastify's own and ends the request with 500, never a pass.
      outcome.then((o) => answer(reply, o, headers, counts)).catch((err: unknown) => reply.send(err))
    } else {
      answer(reply, outcome, headers, counts)
    }
  }
  app.all(path, handler)
  app.all(`${path}/*`, handler)
  return headers
}
