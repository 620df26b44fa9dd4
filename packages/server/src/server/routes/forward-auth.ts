import type { FastifyInstance } from 'fastify'
import { registerForwardAuth, type IdentityHeaderOptions } from '@tessera/gateway'
import { createVerifier, LocalKeySource } from '@tessera/verifier'
import type { ServerContext } from '../context.js'

/** Options of the forward-auth endpoint mounted in the auth server. */
export interface ServerForwardAuthOptions {
  headers?: IdentityHeaderOptions
  realm?: string
}

/** Where the auth server answers forward-auth calls (and below it, for Envoy's path prefix). */
export const SERVER_FORWARD_AUTH_PATH = '/auth/forward'

/**
 * The gateway's handler inside the auth server, for deployments without a
 * separate `tessera gateway`: a cached verifier on the engine's own keys and
 * store, so it follows revocations as the gateway does.
 */
export async function registerForwardAuthRoute(app: FastifyInstance, ctx: ServerContext, options: ServerForwardAuthOptions): Promise<void> {
  const o = ctx.auth.options
  const verifier = await createVerifier({
    mode: 'cached',
    // As the server's own verifier: with a shared key set, an unknown kid makes the engine look in the store first.
    keys: ctx.auth.sharesSigningKeys ? new LocalKeySource(ctx.auth.keys, { refresh: () => ctx.auth.refreshSigningKeys() }) : ctx.auth.keys,
    store: ctx.auth.store,
    issuer: o.issuer,
    audience: o.audience,
    algorithms: ctx.auth.algorithms,
    clockToleranceSeconds: o.clockToleranceSeconds,
    // No revocationTtlMs: the verifier keeps each revocation as long as the issuer's heartbeats say its tokens may live.
    clock: o.clock,
  })
  app.addHook('onClose', () => verifier.close())
  registerForwardAuth(app, { verifier, path: SERVER_FORWARD_AUTH_PATH, headers: options.headers, realm: options.realm })
}
