import type { FastifyInstance } from 'fastify'
import { registerForwardAuth, type IdentityHeaderOptions } from '@tessera/gateway'
import { createEngineVerifier } from '@tessera/verifier'
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
  // Built as the server's own verifier is (createEngineVerifier), in cached mode: it follows revocations as the gateway does.
  const verifier = await createEngineVerifier(ctx.auth, { mode: 'cached' })
  app.addHook('onClose', () => verifier.close())
  registerForwardAuth(app, { verifier, path: SERVER_FORWARD_AUTH_PATH, headers: options.headers, realm: options.realm })
}
