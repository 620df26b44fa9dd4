import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { bearerToken } from '@tessera/verifier'
import type { ServerContext } from '../context.js'
import { HttpProblem } from '../http-errors.js'

/**
 * Who may read `/metrics` on the main port. The counters (sign-ins by outcome,
 * refresh-token reuse) tell an outsider how an attack is going, so by default
 * nobody: `'off'` answers 404, `{ token }` wants `Authorization: Bearer <token>`,
 * `'public'` is for an app only reachable from a private network (tests).
 */
export type MetricsAccess = 'off' | 'public' | { token: string }

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

const READY_TIMEOUT_MS = 1000

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function reachable(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await within(check(), READY_TIMEOUT_MS)
    return true
  } catch {
    return false
  }
}

/** Health, readiness, Prometheus metrics and the OpenAPI document. */
export function registerOpsRoutes(app: FastifyInstance, ctx: ServerContext, metricsAccess: MetricsAccess = 'off'): void {
  app.get('/healthz', { schema: { summary: 'The process is up' } }, async () => ({ status: 'ok' }))

  app.get('/readyz', { schema: { summary: 'The session store and the user database answer (else 503)' } }, async (_request, reply) => {
    const [store, database, limiter] = await Promise.all([
      reachable(() => ctx.auth.revocationLogInfo()),
      reachable(() => ctx.users.ping()),
      reachable(() => ctx.limiter.ping()),
    ])
    const ready = store && database && limiter
    const body = { status: ready ? 'ready' : 'unavailable', checks: { session_store: store, user_database: database, rate_limiter: limiter } }
    if (!ready) reply.code(503).header('retry-after', '1')
    return reply.send(body)
  })

  if (metricsAccess !== 'off') {
    const expected = metricsAccess === 'public' ? null : digest(metricsAccess.token)
    const onRequest = async (request: FastifyRequest) => {
      const token = bearerToken(request.headers.authorization)
      // Digests first, so the comparison is constant-time whatever the lengths.
      if (expected && !(token !== null && timingSafeEqual(digest(token), expected))) throw new HttpProblem('ERR_UNAUTHENTICATED', '/metrics needs "Authorization: Bearer <metrics token>"')
    }
    app.get('/metrics', { onRequest, schema: { hide: true } }, async (_request, reply) => {
      return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics())
    })
  }

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
