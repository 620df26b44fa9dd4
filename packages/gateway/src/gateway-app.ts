import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Counter, Registry, collectDefaultMetrics } from 'prom-client'
import { registerVerifierMetrics, type Verifier } from '@tessera/verifier'
import { clientErrorHandler, frameworkErrorHandler, notFoundHandler } from '@tessera/verifier/fastify'
import { ForwardAuthCounts, registerForwardAuth } from './forward-auth.js'
import type { IdentityHeaderOptions } from './identity-headers.js'

/** Options of {@link buildGatewayApp}. The caller makes (and later closes) the verifier. */
export interface GatewayAppOptions {
  verifier: Verifier
  headers?: IdentityHeaderOptions
  realm?: string
  /** Path of the forward-auth endpoint. Default `/forward-auth`. */
  path?: string
  /** Also export Node.js process metrics (one process, one app). Default false. */
  processMetrics?: boolean
  logger?: FastifyServerOptions['logger']
}

function registerDecisionMetrics(counts: ForwardAuthCounts, registry: Registry): void {
  new Counter({
    name: 'tessera_gateway_decisions_total',
    help: 'Forward-auth answers by decision: allowed (2xx), refused (401), unavailable (503)',
    labelNames: ['decision'],
    registers: [registry],
    collect() {
      this.reset()
      this.inc({ decision: 'allowed' }, counts.allowed)
      this.inc({ decision: 'refused' }, counts.refused)
      this.inc({ decision: 'unavailable' }, counts.unavailable)
    },
  })
}

/**
 * The forward-auth gateway as a Fastify app that never listens: the
 * forward-auth endpoint (any method, `/forward-auth` and below), `/healthz`,
 * `/readyz` (503 while the verifier cannot trust its revocation state) and
 * Prometheus `/metrics`.
 *
 * @example
 * ```ts
 * const app = await buildGatewayApp({ verifier })
 * const res = await app.inject({ url: '/forward-auth', headers: { authorization: `Bearer ${token}` } })
 * ```
 */
export async function buildGatewayApp(options: GatewayAppOptions): Promise<FastifyInstance> {
  const { verifier } = options
  const app = Fastify({
    logger: options.logger ?? false,
    // Forward-auth calls carry no body (NGINX: proxy_pass_request_body off; Envoy and Traefik send none).
    bodyLimit: 1024,
    requestTimeout: 15_000,
    // Idle keep-alive connections live longer here than in the proxy's pool (NGINX keepalive_timeout: 60 s), so
    // the proxy is the side that closes one and never sends a request on a connection the gateway is closing.
    keepAliveTimeout: 72_000,
    // Ids of our own; a client-chosen request id would let callers forge log lines.
    requestIdHeader: false,
    // Every request carries a token: refused requests never echo the URL, and the raw bytes of one the HTTP parser
    // refuses (rawPacket, Authorization included) never reach a log line, whatever LOG_LEVEL says.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  })
  app.setNotFoundHandler(notFoundHandler)
  const registry = new Registry()
  if (options.processMetrics) collectDefaultMetrics({ register: registry })
  registerVerifierMetrics(verifier, registry)
  const counts = new ForwardAuthCounts()
  registerDecisionMetrics(counts, registry)

  // Callback style, not async: an async hook costs every forward-auth answer a promise and a microtask hop before the write.
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff')
    done(null, payload)
  })
  registerForwardAuth(app, { verifier, counts, headers: options.headers, realm: options.realm, path: options.path })

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    const revocationState = verifier.trustsRevocationState()
    if (!revocationState) reply.code(503).header('retry-after', '1')
    return { status: revocationState ? 'ready' : 'unavailable', checks: { revocation_state: revocationState } }
  })
  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()))
  return app
}
