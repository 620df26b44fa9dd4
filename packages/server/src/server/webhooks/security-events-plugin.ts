import { AsyncLocalStorage } from 'node:async_hooks'
import type { FastifyInstance } from 'fastify'
import type { DeliveryQueue } from '@tessera/core'
import { clientAddress } from '../client-address.js'
import type { ServerContext } from '../context.js'
import { WebhookDeliverer, type DeliveryReport, type WebhookDeliveryOptions } from './deliverer.js'
import type { WebhookEndpoint } from './endpoints.js'
import { SecurityEventPublisher, type RequestDevice } from './security-events.js'
import { sendSecurityMail, type SecurityMailOptions } from './security-mail.js'

/** Webhook settings of `buildApp`. */
export interface WebhookSettings {
  queue: DeliveryQueue
  endpoints: readonly WebhookEndpoint[]
  delivery?: Partial<WebhookDeliveryOptions>
  /** Run a deliverer in this instance. Default true; false queues only (another instance delivers). */
  deliver?: boolean
}

/**
 * Publishes security events (webhooks and the optional mails) and runs this
 * instance's deliverer; stops both when the app closes. Does nothing when
 * neither webhooks nor mails are configured.
 */
export function registerSecurityEvents(app: FastifyInstance, ctx: ServerContext, options: { webhooks: WebhookSettings | null; mail: SecurityMailOptions | null }): void {
  const { webhooks, mail } = options
  if (!webhooks && !(mail && (mail.newDevice || mail.passwordChanged))) return
  // The device of the request being served, for events raised inside it (who presented a reused refresh token).
  const requestDevice = new AsyncLocalStorage<RequestDevice>()
  app.addHook('preHandler', (request, _reply, done) => {
    requestDevice.run({ ip: clientAddress(request), userAgent: String(request.headers['user-agent'] ?? '').slice(0, 512) }, done)
  })
  const publisher = new SecurityEventPublisher({
    auth: ctx.auth,
    queue: webhooks?.queue ?? null,
    endpoints: webhooks?.endpoints ?? [],
    requestDevice: () => requestDevice.getStore() ?? null,
    onEvent: (event) => {
      ctx.metrics.securityEvents.inc({ type: event.type, outcome: 'queued' })
      if (mail) ctx.background(`security mail ${event.type}`, () => sendSecurityMail(event, { options: mail, publicUrl: ctx.publicUrl, users: ctx.users, mailer: ctx.mailer }))
    },
    onError: (err, event) => {
      ctx.metrics.securityEvents.inc({ type: event.type, outcome: 'lost' })
      app.log.error({ event: event.type, userId: event.data.userId, err: { message: (err as Error).message } }, 'security event could not be queued')
    },
  })
  ctx.securityEvents = {
    passwordChanged: (userId, how) => publisher.passwordChanged(userId, how),
    deadLetters: async (limit) => (webhooks ? webhooks.queue.deadLetters(limit) : []),
  }
  const deliverer =
    webhooks && webhooks.deliver !== false && webhooks.endpoints.length > 0
      ? new WebhookDeliverer({
          queue: webhooks.queue,
          endpoints: webhooks.endpoints,
          clock: ctx.auth.options.clock,
          ...(webhooks.delivery ? { options: webhooks.delivery } : {}),
          onReport: (r: DeliveryReport) => {
            ctx.metrics.webhookDeliveries.inc({ endpoint: r.endpointId, outcome: r.outcome })
            if (r.outcome === 'dead') app.log.error({ endpoint: r.endpointId, messageId: r.messageId, attempt: r.attempt, error: r.error }, 'webhook dead-lettered')
            else if (r.outcome === 'retry') app.log.warn({ endpoint: r.endpointId, messageId: r.messageId, attempt: r.attempt, error: r.error }, 'webhook delivery failed; will retry')
          },
          onError: (err) => app.log.warn({ err: { message: (err as Error).message } }, 'webhook queue unavailable'),
        })
      : null
  app.addHook('onReady', async () => deliverer?.start())
  app.addHook('preClose', async () => {
    await deliverer?.stop()
  })
  app.addHook('onClose', async () => {
    await publisher.close()
  })
}
