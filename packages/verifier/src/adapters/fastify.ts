import type { FastifyPluginAsync, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import type { AccessTokenClaims } from '@tessera/core'
import { decide, type AuthOutcome } from '../http-problem.js'
import { PROBLEM_CONTENT_TYPE, type AuthProblem } from '../problem-details.js'
import type { Verifier } from '../verifier.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Claims of the verified access token; null on routes that are not protected or optional without a token.
     * Fastify's request type cannot know which routes are protected: on a protected route,
     * `authOf(request)` gives the claims typed non-null.
     */
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
  /**
   * Protect every route unless its `config.tessera` says otherwise. Default true.
   * Applies to routes added after the plugin is registered; 404s are not touched.
   */
  protectByDefault?: boolean
  /** `realm` of the `WWW-Authenticate` challenge. */
  realm?: string
  /** Close the verifier when the Fastify instance closes (when you made it only for this app). Default false. */
  closeVerifier?: boolean
  /** Called with every decision and how long it took (seconds), e.g. for metrics. Must not throw. */
  onDecision?: (outcome: AuthOutcome, seconds: number, request: FastifyRequest) => void
}

function send(reply: FastifyReply, problem: AuthProblem): void {
  reply.code(problem.status).headers(problem.headers).type(PROBLEM_CONTENT_TYPE).send(problem.body)
}

interface HookOptions {
  optional: boolean
  realm: string | undefined
  onDecision: TesseraFastifyOptions['onDecision']
}

function hookFor(verifier: Verifier, options: HookOptions): onRequestHookHandler {
  const { onDecision } = options
  const apply = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, outcome: AuthOutcome, startedMs: number) => {
    if (onDecision) onDecision(outcome, (performance.now() - startedMs) / 1000, request)
    if (!outcome.ok) return send(reply, outcome.problem)
    request.auth = outcome.claims
    done()
  }
  // Callback style, not async: a token decided from the caches costs no promise at all.
  return function tesseraOnRequest(request, reply, done) {
    const startedMs = onDecision ? performance.now() : 0
    // request.protocol and request.host follow X-Forwarded-* only when the app sets trustProxy.
    const outcome = decide(
      verifier,
      { authorization: request.headers.authorization, dpop: request.headers.dpop, method: request.method, url: `${request.protocol}://${request.host}${request.url}` },
      options,
    )
    if (outcome instanceof Promise) {
      // decide() never rejects; a throw from apply() would be Fastify's own and is reported to it.
      outcome.then((o) => apply(request, reply, done, o, startedMs)).catch((err: unknown) => done(err as Error))
    } else {
      apply(request, reply, done, outcome, startedMs)
    }
  }
}

const plugin: FastifyPluginAsync<TesseraFastifyOptions> = async (app, options) => {
  const { verifier, realm } = options
  if (!verifier || typeof verifier.verifyMaybeSync !== 'function') throw new TypeError('"verifier" option is required')
  const fallback = options.protectByDefault ?? true
  const required = hookFor(verifier, { optional: false, realm, onDecision: options.onDecision })
  const optional = hookFor(verifier, { optional: true, realm, onDecision: options.onDecision })
  // Declared up front (null) so every request object has the same shape.
  app.decorateRequest('auth', null)
  // Decided once per route, when it is added, instead of reading the route's config on every request.
  app.addHook('onRoute', (route) => {
    const setting = route.config?.tessera ?? fallback
    if (setting === false) return
    const hook = setting === 'optional' ? optional : required
    const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
    route.onRequest = [hook, ...existing]
  })
  if (options.closeVerifier) app.addHook('onClose', async () => verifier.close())
}

/**
 * Fastify plugin: verifies the access token of each request (Bearer, or DPoP
 * with its proof) in an `onRequest` hook of each protected route and puts its
 * claims on `request.auth`. Refusals are 401 with `WWW-Authenticate` (Bearer or
 * DPoP, RFC 6750 / RFC 9449 error codes) and problem+json, or 503 when
 * revocation state cannot be read; never a 500 for a bad token.
 *
 * @example
 * ```ts
 * await app.register(tesseraFastify, { verifier })
 * app.get('/me', async (request) => ({ userId: authOf(request).userId }))
 * app.get('/health', { config: { tessera: false } }, async () => 'ok')
 * ```
 */
export const tesseraFastify = fp(plugin, { fastify: '5.x', name: 'tessera' })

export { authOf } from './auth-of.js'
export { clientErrorHandler, frameworkErrorHandler, notFoundHandler } from './request-errors.js'
