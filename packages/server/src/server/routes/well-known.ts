import type { FastifyInstance } from 'fastify'
import { issuerLimitsToMetadata } from '@tessera/core'
import type { ServerContext } from '../context.js'

/** JWKS and RFC 8414 authorization-server metadata. */
export function registerWellKnownRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/.well-known/jwks.json', {
    schema: { summary: 'Public keys of every signing key whose tokens may still be alive' },
  }, async (_request, reply) => {
    // A verifier asks when a token names a key it does not know: answer with what the store holds now, not at the
    // last poll, so a key rotated in through another instance is here. A store outage serves the keys in hand.
    await ctx.auth.refreshSigningKeys().catch(() => undefined)
    // Short cache: verifiers pick up a rotated key within a minute.
    return reply.header('cache-control', 'public, max-age=60').send(ctx.auth.keys.publicJwks())
  })

  app.get('/.well-known/oauth-authorization-server', {
    schema: { summary: 'RFC 8414 authorization server metadata' },
  }, async () => {
    const base = ctx.publicUrl
    return {
      issuer: ctx.auth.options.issuer,
      token_endpoint: `${base}/oauth2/token`,
      jwks_uri: `${base}/.well-known/jwks.json`,
      introspection_endpoint: `${base}/oauth2/introspect`,
      revocation_endpoint: `${base}/oauth2/revoke`,
      grant_types_supported: ['refresh_token'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
      revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic'],
      service_documentation: `${base}/openapi.json`,
      // RFC 9449 section 5.1.
      dpop_signing_alg_values_supported: ctx.auth.dpop.options.algorithms,
      // Tessera extensions (docs/verifiers.md, "Issuer limits"): how long this issuer's access tokens may live, so a
      // verifier can check at start that it remembers revocations long enough (the log's heartbeats say the same).
      ...issuerLimitsToMetadata(ctx.auth.options),
    }
  })
}
