import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { createEngineVerifier } from '@tessera/verifier'
import { tesseraFastify } from '@tessera/verifier/fastify'
import type { ServerContext } from '../context.js'
import { logFailure } from './errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Resolves when no background work (reset mails, ...) is left. */
    backgroundSettled: () => Promise<void>
    /** The app's Prometheus registry (counters of sign-ins, refreshes, reuse, revocations). */
    metricsRegistry: import('prom-client').Registry
  }
}

async function authPlugin(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  // The server protects its routes with the Fastify adapter every user gets: strict mode on the engine's own keys,
  // store and DPoP checker. The signature check is node:crypto and synchronous (jose's WebCrypto verify queues on
  // the libuv pool, behind argon2id during a login storm); the revocation check is the engine's one store script.
  const verifier = await createEngineVerifier(ctx.auth, { mode: 'strict', dpop: true })
  await app.register(tesseraFastify, {
    verifier,
    // Routes opt in with `config: { tessera: true }`; sign-in, refresh and the public routes stay open.
    protectByDefault: false,
    closeVerifier: true,
    onDecision: (outcome, seconds, request) => {
      // A request that sent no token was not a check: it is not counted, as before the adapter.
      if (!outcome.ok && outcome.problem.body.code === 'ERR_ACCESS_TOKEN_MISSING') return
      // The answer to a 503 is generic; the log says which store call failed and why.
      if (!outcome.ok && outcome.problem.status === 503) logFailure(request.log, outcome.error, 'ERR_STORE_UNAVAILABLE')
      ctx.metrics.verifyDuration.observe(seconds)
      ctx.metrics.verifications.inc({ outcome: outcome.ok ? 'valid' : outcome.problem.body.code })
    },
  })
}

/** Verifies the access token of routes with `config: { tessera: true }` and puts its claims on `request.auth`. */
export const authenticationPlugin = fp(authPlugin, { fastify: '5.x', name: 'tessera-auth' })
