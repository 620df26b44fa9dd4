import { createHmac } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import cookie from '@fastify/cookie'
import swagger from '@fastify/swagger'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Tessera } from '@tessera/core'
import { clientErrorHandler, frameworkErrorHandler } from '@tessera/verifier/fastify'
import type { Mailer } from '../mail/mailer.js'
import type { UserStore } from '../users/user-store.js'
import type { TrustProxy } from './client-address.js'
import { DEFAULT_RATE_LIMITS, type RateLimits, type ServerContext } from './context.js'
import { DeviceCookies } from './device-cookie.js'
import { LoginLockout } from './login-lockout.js'
import { ServerMetrics } from './metrics.js'
import { authenticationPlugin } from './plugins/auth.js'
import { errorsPlugin, setSecurityHeaders } from './plugins/errors.js'
import { MemoryRateLimiter, type RateLimiter } from './rate-limiter.js'
import { registerAccountRoutes } from './routes/account.js'
import { registerAdminRoutes } from './routes/admin.js'
import { registerAuthRoutes } from './routes/auth.js'
import { registerDemoRoutes } from './routes/demo.js'
import { registerEmailVerificationRoutes } from './routes/email-verification.js'
import { registerForwardAuthRoute, type ServerForwardAuthOptions } from './routes/forward-auth.js'
import { oauthRoutes } from './routes/oauth.js'
import { type MetricsAccess, registerOpsRoutes } from './routes/ops.js'
import { registerPasswordRoutes } from './routes/password.js'
import { registerSessionRoutes } from './routes/sessions.js'
import { registerWellKnownRoutes } from './routes/well-known.js'
import { registerSecurityEvents, type WebhookSettings } from './webhooks/security-events-plugin.js'
import type { SecurityMailOptions } from './webhooks/security-mail.js'

/** Options of {@link buildApp}. The caller opens (and later closes) auth, users and mailer. */
export interface AppOptions {
  auth: Tessera
  users: UserStore
  mailer: Mailer
  /** Default: in-memory counters (one instance). */
  limiter?: RateLimiter
  rateLimits?: Partial<RateLimits>
  /** Base of mail links and of the metadata URLs. Default http://127.0.0.1:3000. */
  publicUrl?: string
  /** Bearer secret of the admin routes; null or unset turns them off. */
  adminToken?: string | null
  /** Clients allowed to call introspection: id -> secret. */
  clients?: ReadonlyMap<string, string>
  /** Mark the refresh cookie Secure even over plain http (behind a TLS proxy). */
  cookieSecure?: boolean
  /**
   * Follow X-Forwarded-* through these proxy addresses/CIDRs (only proxies you
   * run). Default false: the peer is the client.
   */
  trustProxy?: TrustProxy
  /**
   * Who may read /metrics on this app: 'off' (404, the default: the counters
   * show how an attack goes), 'public', or { token } for a Bearer token.
   * `tessera serve` can also serve them on a separate address (TESSERA_METRICS_LISTEN).
   */
  metricsAccess?: MetricsAccess
  /** Also export Node.js process metrics (one process, one app). Default false. */
  processMetrics?: boolean
  /** Fastify/pino logger options; default off. */
  logger?: FastifyServerOptions['logger']
  /** Directory of the account page; null turns /account off. Default: the repository's web/. */
  webDir?: string | null
  /** Largest request body. Default 16 KiB. */
  bodyLimitBytes?: number
  passwordResetTtlSeconds?: number
  emailVerificationTtlSeconds?: number
  /** Persists keys after POST /admin/keys/rotate. */
  saveKeys?: (() => Promise<void>) | null
  /**
   * Background work (reset and verification mails) starts after a random delay
   * in this range, in ms. Default [20, 200]. The work exists only for real
   * accounts; started at once, it would slow whichever request came next and so
   * tell an attacker timing the following requests that the account exists.
   */
  backgroundDelayMs?: readonly [number, number]
  /**
   * Mount the forward-auth gateway's handler at /auth/forward (NGINX
   * auth_request, Traefik forwardAuth, Envoy ext_authz; docs/gateway.md).
   * Default null: off.
   */
  forwardAuth?: ServerForwardAuthOptions | null
  /** Signed webhooks for security events (docs/webhooks.md); null or unset: none. */
  webhooks?: WebhookSettings | null
  /** Mails to the user on a new device and a password change; default none. */
  securityMail?: SecurityMailOptions | null
}

/**
 * What every log line of the server hides: credentials in headers, and the raw
 * request bytes Node attaches to parser errors (`rawPacket`) should any error
 * carrying them reach a log line. main.ts uses this; the secrets test too.
 */
export const LOG_REDACT: readonly string[] = ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', 'err.rawPacket', 'error.rawPacket']

/** Logs what an operator must see (reuse, bans, mass revocations); ids only, never tokens. */
function logSecurityEvents(app: FastifyInstance, auth: Tessera): () => void {
  const onReuse = (e: { userId: string; sessionId: string }) => app.log.warn({ event: 'refresh_reuse_detected', userId: e.userId, sessionId: e.sessionId }, 'refresh token reuse detected; session revoked')
  const onBanned = (e: { userId: string; untilMs: number | null; sessionsRevoked: number }) => app.log.info({ event: 'user_banned', userId: e.userId, untilMs: e.untilMs, sessionsRevoked: e.sessionsRevoked }, 'user banned')
  const onAllRevoked = (e: { userId: string; count: number; reason: string }) => app.log.info({ event: 'sessions_revoked', userId: e.userId, count: e.count, reason: e.reason }, 'sessions revoked')
  auth.on('refresh_reuse_detected', onReuse)
  auth.on('user_banned', onBanned)
  auth.on('sessions_revoked', onAllRevoked)
  return () => {
    auth.off('refresh_reuse_detected', onReuse)
    auth.off('user_banned', onBanned)
    auth.off('sessions_revoked', onAllRevoked)
  }
}

/** The repository's web/ directory, from src/server or dist/server alike. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url))

/**
 * Builds the HTTP auth server. It never listens: `main.ts` does, tests use
 * `app.inject()`.
 *
 * @example
 * ```ts
 * const app = await buildApp({ auth: await createTessera(), users, mailer })
 * const res = await app.inject({ method: 'GET', url: '/healthz' })
 * ```
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimitBytes ?? 16 * 1024,
    // Fastify (proxy-addr) matches the list; a copy, since its type wants a mutable array.
    trustProxy: options.trustProxy ? [...options.trustProxy] : false,
    routerOptions: { maxParamLength: 500 },
    requestTimeout: 15_000,
    // Ids of our own; a client-chosen request id would let callers forge log lines.
    requestIdHeader: false,
    // Shared with the gateway: no URL echoed, no raw request bytes (rawPacket) logged.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  })
  const pending = new Set<Promise<void>>()
  const limiterKeyKey = options.auth.deriveKey('rate-limiter keys v1')
  const limiter = options.limiter ?? new MemoryRateLimiter()
  const rateLimits = { ...DEFAULT_RATE_LIMITS, ...options.rateLimits }
  const metrics = new ServerMetrics({ defaultMetrics: options.processMetrics ?? false })
  const ctx: ServerContext = {
    auth: options.auth,
    users: options.users,
    mailer: options.mailer,
    metrics,
    limiter,
    rateLimits,
    loginLockout: new LoginLockout(limiter, rateLimits.loginPerAccount),
    deviceCookies: new DeviceCookies(options.auth.deriveKey('device cookies v1')),
    limiterKey: (value) => createHmac('sha256', limiterKeyKey).update(value).digest('base64url').slice(0, 22),
    publicUrl: (options.publicUrl ?? 'http://127.0.0.1:3000').replace(/\/+$/, ''),
    adminToken: options.adminToken ?? null,
    clients: options.clients ?? new Map(),
    cookieSecure: options.cookieSecure ?? false,
    passwordResetTtlSeconds: options.passwordResetTtlSeconds ?? 3600,
    emailVerificationTtlSeconds: options.emailVerificationTtlSeconds ?? 24 * 3600,
    saveKeys: options.saveKeys ?? null,
    securityEvents: { passwordChanged() {}, deadLetters: async () => [] },
    background(name, work) {
      const [minDelay, maxDelay] = options.backgroundDelayMs ?? [20, 200]
      const delayMs = minDelay + Math.random() * (maxDelay - minDelay)
      const task = new Promise<void>((resolve) => setTimeout(resolve, delayMs)).then(work).catch((err: unknown) => {
        const e = err as { message?: unknown; code?: unknown }
        app.log.error({ task: name, err: { message: e.message, code: e.code } }, 'background task failed')
      })
      pending.add(task)
      void task.finally(() => pending.delete(task))
    },
  }

  // JSON only: a text/plain body would otherwise reach validation as a string and hide the real problem (415).
  app.removeContentTypeParser('text/plain')
  // Many HTTP clients send `Content-Type: application/json` with an empty body on a POST that takes none
  // (logout): that is no body, not bad JSON. Anything else goes to Fastify's own (prototype-poisoning safe) parser.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0) {
      done(null, undefined)
      return
    }
    // Fastify's JSON parser is synchronous: it reports through `done`, never through a promise.
    void parseJson(request, body.toString(), done)
  })
  // A POST without a body (logout-all, refresh in cookie mode) validates as an empty object.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined || request.body === null) request.body = {}
  })

  const stopFollowing = metrics.follow(ctx.auth)
  const stopLogging = logSecurityEvents(app, ctx.auth)
  registerSecurityEvents(app, ctx, { webhooks: options.webhooks ?? null, mail: options.securityMail ?? null })
  // Requests still in flight when close() starts get `Connection: close`: their sockets would otherwise idle on
  // for Fastify's keep-alive timeout (72 s) after the answer, and hold the drain (SIGTERM) that long.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onSend', async (request, reply) => {
    if (closing) reply.header('connection', 'close')
    // Answers about users, sessions and tokens are personal: no shared cache may keep them.
    setSecurityHeaders(reply, /^\/(auth|admin|oauth2)\//.test(request.url))
  })
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000)
  })
  app.addHook('onClose', async () => {
    stopFollowing()
    stopLogging()
    await Promise.allSettled([...pending])
  })
  // For a metrics listener of its own (TESSERA_METRICS_LISTEN), beside the app.
  app.decorate('metricsRegistry', metrics.registry)
  // For graceful shutdown and for tests that must time requests on a settled server.
  app.decorate('backgroundSettled', async () => {
    while (pending.size > 0) await Promise.allSettled([...pending])
  })

  await app.register(errorsPlugin)
  await app.register(cookie)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Tessera auth server', version: '0.1.0', description: 'Revocable JWT authentication: sessions, rotating refresh tokens, revocation.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  })
  await app.register(authenticationPlugin, ctx)

  registerAuthRoutes(app, ctx)
  registerSessionRoutes(app, ctx)
  registerPasswordRoutes(app, ctx)
  registerEmailVerificationRoutes(app, ctx)
  registerAdminRoutes(app, ctx)
  registerWellKnownRoutes(app, ctx)
  registerOpsRoutes(app, ctx, options.metricsAccess ?? 'off')
  if (options.forwardAuth) await registerForwardAuthRoute(app, ctx, options.forwardAuth)
  registerDemoRoutes(app)
  await registerAccountRoutes(app, options.webDir === undefined ? DEFAULT_WEB_DIR : options.webDir)
  await app.register(async (scope) => oauthRoutes(scope, ctx))
  return app
}
