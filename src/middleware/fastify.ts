import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import type { AccessTokenClaims } from '../core/access-token.js'
import { PROBLEM_CONTENT_TYPE, authenticate } from '../verifier/http-problem.js'
import type { Verifier } from '../verifier/verifier.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Claims of the verified access token; null on routes that are not protected or optional without a token. */
    auth: AccessTokenClaims | null
  }
  interface FastifyContextConfig {
    /** `true` protect this route, `false` leave it open, `'optional'` verify a token only when one is sent. */
    tessera?: boolean | 'optional'
  }
}

/** Options of {@link tesseraFastify}. */
export interface TesseraFastifyOptions {
  verifier: Verifier
  /** Protect every route unless its `config.tessera` says otherwise. Default true. */
  protectByDefault?: boolean
  /** `realm` of the `WWW-Authenticate` challenge. */
  realm?: string
  /** Close the verifier when the Fastify instance closes (when you made it only for this app). Default false. */
  closeVerifier?: boolean
}

const plugin: FastifyPluginAsync<TesseraFastifyOptions> = async (app, options) => {
  const { verifier, realm } = options
  if (!verifier || typeof verifier.verify !== 'function') throw new TypeError('"verifier" option is required')
  const fallback = options.protectByDefault ?? true
  // Declared up front (null) so every request object has the same shape.
  app.decorateRequest('auth', null)
  app.addHook('onRequest', async (request, reply) => {
    const setting = request.routeOptions.config?.tessera ?? fallback
    if (setting === false) return
    const outcome = await authenticate(verifier, request.headers.authorization, { optional: setting === 'optional', realm })
    if (outcome.ok) {
      request.auth = outcome.claims
      return
    }
    const { problem } = outcome
    return reply.code(problem.status).headers(problem.headers).type(PROBLEM_CONTENT_TYPE).send(problem.body)
  })
  if (options.closeVerifier) app.addHook('onClose', async () => verifier.close())
}

/**
 * Fastify plugin: verifies the bearer access token of each request in an
 * `onRequest` hook and puts its claims on `request.auth`. Refusals are 401
 * with `WWW-Authenticate: Bearer error="invalid_token"` and problem+json, or
 * 503 when revocation state cannot be read; never a 500 for a bad token.
 *
 * @example
 * ```ts
 * await app.register(tesseraFastify, { verifier })
 * app.get('/me', async (request) => ({ userId: request.auth!.userId }))
 * app.get('/health', { config: { tessera: false } }, async () => 'ok')
 * ```
 */
export const tesseraFastify = fp(plugin, { fastify: '5.x', name: 'tessera' })
