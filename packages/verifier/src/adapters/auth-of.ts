import type { AccessTokenClaims } from '@tessera/core'

/**
 * The claims of a request on a protected route, typed non-null. The adapters
 * declare `auth` nullable on every request (a framework's request type cannot
 * know which routes are protected); on a route the middleware protects it is
 * always set, and this says so to the type checker. Called on a route that is
 * not protected (or optional, without a token) it throws: a wiring mistake,
 * never a client's.
 *
 * @example
 * ```ts
 * app.get('/me', async (request) => ({ userId: authOf(request).userId }))
 * ```
 */
export function authOf(request: { auth?: AccessTokenClaims | null }): AccessTokenClaims {
  const claims = request.auth
  if (!claims) throw new TypeError('authOf() needs a route protected by the Tessera middleware (request.auth is not set)')
  return claims
}
