import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { type AccessTokenClaims, AuthError } from '@tessera/core'
import { createVerifier, credentialsOf, LocalKeySource, missingTokenProblem } from '@tessera/verifier'
import type { ServerContext } from '../context.js'
import { dpopPresentation, resourceError } from '../dpop.js'
import { HttpProblem } from '../http-errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Claims of the verified access token on protected routes; null elsewhere. */
    claims: AccessTokenClaims | null
  }
  interface FastifyInstance {
    /** onRequest hook: strict verification of the access token (Bearer, or DPoP with its proof). */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /** Resolves when no background work (reset mails, ...) is left. */
    backgroundSettled: () => Promise<void>
    /** The app's Prometheus registry (counters of sign-ins, refreshes, reuse, revocations). */
    metricsRegistry: import('prom-client').Registry
  }
}

/** The token of an `Authorization: Bearer` header, or null. */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (typeof header !== 'string') return null
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header)
  return match ? match[1]! : null
}

/** The claims of an authenticated request; only call it on routes that use `app.authenticate`. */
export function claimsOf(request: FastifyRequest): AccessTokenClaims {
  if (!request.claims) throw new HttpProblem('ERR_ACCESS_TOKEN_MISSING', 'this route needs a Bearer access token')
  return request.claims
}

async function authPlugin(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  // Strict mode on the engine's own keys and store, through the node:crypto verifier: the signature check is
  // synchronous (jose's WebCrypto verify queues on the libuv pool, behind argon2id during a login storm) and a
  // token seen before skips it; the revocation check is the same one store script as the engine's.
  const o = ctx.auth.options
  const verifier = await createVerifier({
    mode: 'strict',
    // With a shared key set, a token naming a key not seen yet makes the engine look in the store before refusing.
    keys: ctx.auth.sharesSigningKeys ? new LocalKeySource(ctx.auth.keys, { refresh: () => ctx.auth.refreshSigningKeys() }) : ctx.auth.keys,
    store: ctx.auth.store,
    issuer: o.issuer,
    audience: o.audience,
    algorithms: ctx.auth.algorithms,
    clockToleranceSeconds: o.clockToleranceSeconds,
    clock: o.clock,
    // The engine's own proof checker: same settings and nonces, replay cache in the engine's store.
    dpop: ctx.auth.dpop,
  })
  app.addHook('onClose', () => verifier.close())
  // Declared up front with null so every request object has the same shape.
  app.decorateRequest('claims', null)
  const missing = missingTokenProblem({ dpopAlgorithms: verifier.dpopAlgorithms }).headers['www-authenticate']!
  app.decorate('authenticate', async (request: FastifyRequest) => {
    const credentials = credentialsOf(request.headers.authorization)
    if (!credentials?.token) {
      throw new HttpProblem('ERR_ACCESS_TOKEN_MISSING', 'send the access token as "Authorization: Bearer <token>" (or "DPoP <token>" with a DPoP proof)', {
        headers: { 'www-authenticate': missing },
      })
    }
    const { scheme, token } = credentials
    const end = ctx.metrics.verifyDuration.startTimer()
    try {
      const claims = await verifier.verify(token)
      await verifier.checkPresentation(claims, token, scheme === 'DPoP' ? (dpopPresentation(request) ?? { proof: undefined, method: request.method, url: '' }) : null)
      request.claims = claims
      ctx.metrics.verifications.inc({ outcome: 'valid' })
    } catch (err) {
      ctx.metrics.verifications.inc({ outcome: err instanceof AuthError ? err.code : 'error' })
      throw resourceError(err, scheme, ctx.auth)
    } finally {
      end()
    }
  })
}

/** Decorates `request.claims` and provides `app.authenticate` for protected routes. */
export const authenticationPlugin = fp(authPlugin, { fastify: '5.x', name: 'tessera-auth' })
