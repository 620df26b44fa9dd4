import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Tessera } from '@tessera/core'

/**
 * The server's Prometheus metrics, in a registry of its own so that several
 * apps in one process (tests) do not collide.
 *
 * @example
 * ```ts
 * const metrics = new ServerMetrics()
 * metrics.logins.inc({ outcome: 'success' })
 * const text = await metrics.registry.metrics()
 * ```
 */
export class ServerMetrics {
  readonly registry = new Registry()
  readonly logins = new Counter({ name: 'tessera_logins_total', help: 'Sign-in attempts by outcome', labelNames: ['outcome'], registers: [this.registry] })
  readonly refreshes = new Counter({ name: 'tessera_refreshes_total', help: 'Refresh attempts by outcome', labelNames: ['outcome'], registers: [this.registry] })
  readonly reuseDetections = new Counter({ name: 'tessera_refresh_reuse_detections_total', help: 'Refresh tokens presented again after rotation', registers: [this.registry] })
  readonly revocations = new Counter({ name: 'tessera_revocations_total', help: 'Sessions revoked by reason', labelNames: ['reason'], registers: [this.registry] })
  readonly verifications = new Counter({ name: 'tessera_access_token_verifications_total', help: 'Strict access-token checks by outcome', labelNames: ['outcome'], registers: [this.registry] })
  readonly securityEvents = new Counter({ name: 'tessera_security_events_total', help: 'Security events (webhooks, mail) by type and whether they were queued or lost', labelNames: ['type', 'outcome'], registers: [this.registry] })
  readonly webhookDeliveries = new Counter({ name: 'tessera_webhook_deliveries_total', help: 'Webhook delivery attempts by endpoint and outcome (delivered, retry, dead)', labelNames: ['endpoint', 'outcome'], registers: [this.registry] })
  readonly httpDuration = new Histogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })
  readonly verifyDuration = new Histogram({
    name: 'tessera_access_token_verify_duration_seconds',
    help: 'Latency of strict access-token verification',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1],
    registers: [this.registry],
  })

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry })
  }

  /** Counts revocations and reuse detections from the engine's events; returns a function that stops. */
  follow(auth: Tessera): () => void {
    const onRevoked = (e: { reason: string }) => this.revocations.inc({ reason: e.reason })
    const onManyRevoked = (e: { reason: string; count: number }) => this.revocations.inc({ reason: e.reason }, e.count)
    const onBanned = (e: { sessionsRevoked: number }) => this.revocations.inc({ reason: 'banned' }, e.sessionsRevoked)
    const onEvicted = () => this.revocations.inc({ reason: 'evicted' })
    const onReuse = () => this.reuseDetections.inc()
    auth.on('session_revoked', onRevoked)
    auth.on('sessions_revoked', onManyRevoked)
    auth.on('user_banned', onBanned)
    auth.on('session_evicted', onEvicted)
    auth.on('refresh_reuse_detected', onReuse)
    return () => {
      auth.off('session_revoked', onRevoked)
      auth.off('sessions_revoked', onManyRevoked)
      auth.off('user_banned', onBanned)
      auth.off('session_evicted', onEvicted)
      auth.off('refresh_reuse_detected', onReuse)
    }
  }
}
