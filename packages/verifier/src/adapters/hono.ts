import type { Context, MiddlewareHandler } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { AccessTokenClaims } from '@tessera/core'
import { decide } from '../http-problem.js'
import { PROBLEM_CONTENT_TYPE, type AuthProblem } from '../problem-details.js'
import type { Verifier } from '../verifier.js'

/** The context variables the middleware sets: `c.get('auth')` / `c.var.auth`. */
export interface TesseraHonoVariables {
  /** Claims of the verified access token; null when optional and no token was sent. */
  auth: AccessTokenClaims | null
}

/** The Hono environment of a route behind {@link tesseraHono}; use it as `new Hono<TesseraHonoEnv>()`. */
export interface TesseraHonoEnv {
  Variables: TesseraHonoVariables
}

/** The environment a route behind a protecting {@link tesseraHono} (not `optional`) sees: `auth` is never null there. */
export interface TesseraHonoProtectedEnv {
  Variables: { auth: AccessTokenClaims }
}

/** Options of {@link tesseraHono}. */
export interface TesseraHonoOptions {
  verifier: Verifier
  /** Let requests without any bearer token through with `auth = null` (a bad token is still refused). Default false. */
  optional?: boolean
  /** `realm` of the `WWW-Authenticate` challenge. */
  realm?: string
}

function refuse(c: Context, problem: AuthProblem): Response {
  // Statuses of the mapping are 4xx and 5xx, all with a body.
  return c.body(JSON.stringify(problem.body), problem.status as ContentfulStatusCode, { ...problem.headers, 'content-type': PROBLEM_CONTENT_TYPE })
}

/**
 * Hono middleware: verifies the access token (Bearer, or DPoP with its proof) and sets the `auth`
 * context variable to its claims. Answers exactly as the Fastify plugin and
 * Express middleware do (same decision function): 401 + `WWW-Authenticate` +
 * problem+json for a missing or bad token, 503 when revocation state cannot
 * be read.
 *
 * @example
 * ```ts
 * const app = new Hono<TesseraHonoEnv>()
 * app.use('/api/*', tesseraHono({ verifier }))
 * app.get('/api/me', tesseraHono({ verifier }), (c) => c.json({ userId: c.var.auth.userId })) // auth is not null here
 * ```
 */
export function tesseraHono<const O extends TesseraHonoOptions>(options: O): MiddlewareHandler<O['optional'] extends true ? TesseraHonoEnv : TesseraHonoProtectedEnv> {
  const { verifier, realm } = options
  if (!verifier || typeof verifier.verifyMaybeSync !== 'function') throw new TypeError('"verifier" option is required')
  const optional = options.optional ?? false
  const handler: MiddlewareHandler<TesseraHonoEnv> = async function tesseraOnRequest(c, next) {
    // decide() never rejects: awaiting a plain outcome costs one microtask, which Hono's async chain pays anyway.
    // c.req.url is what the server saw; behind a proxy, rewrite it (or the Host) in front of this middleware.
    const outcome = await decide(verifier, { authorization: c.req.header('authorization'), dpop: c.req.header('dpop'), method: c.req.method, url: c.req.url }, { optional, realm })
    if (!outcome.ok) return refuse(c, outcome.problem)
    c.set('auth', outcome.claims)
    await next()
    return undefined
  }
  // The same function either way; only the variables a route sees differ (auth is set whenever the route runs unless optional).
  return handler as MiddlewareHandler<O['optional'] extends true ? TesseraHonoEnv : TesseraHonoProtectedEnv>
}
