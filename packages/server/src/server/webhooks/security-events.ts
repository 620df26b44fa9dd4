import { randomBytes } from 'node:crypto'
import type { DeliveryQueue, DeviceInfo, Tessera, TesseraEvents } from '@tessera/core'
import type { WebhookEndpoint } from './endpoints.js'

/** Every security event type the server delivers. */
export const SECURITY_EVENT_TYPES = [
  'session.signed_in',
  'refresh_token.reuse_detected',
  'session.revoked',
  'user.sessions_revoked',
  'user.banned',
  'user.unbanned',
  'user.password_changed',
] as const

export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number]

/** Who made the request that caused an event (server requests only). */
export interface RequestDevice {
  ip: string
  userAgent: string
}

/** A session's device as events carry it (the fields of `DeviceInfo`, in a fixed order). */
function sessionDevice(device: Required<DeviceInfo>): { userAgent: string; ip: string; name: string; deviceClass: string } {
  return { userAgent: device.userAgent, ip: device.ip, name: device.name, deviceClass: device.deviceClass }
}

/** The JSON body of every delivery (`type`, `timestamp`, `data`, as Standard Webhooks suggests). Ids only: no token, secret or email. */
export interface SecurityEvent {
  type: SecurityEventType
  /** ISO 8601. */
  timestamp: string
  data: Record<string, unknown> & { userId: string }
}

/**
 * How an event whose enqueue failed (the store answered the operation, then failed: a blip, a failover) is tried
 * again before it is given up as lost. Delays double from `firstDelayMs` up to `maxDelayMs`; no attempt starts
 * later than `giveUpAfterMs` after the first. Closing the publisher makes one last attempt at once.
 */
export interface EnqueueRetryOptions {
  firstDelayMs: number
  maxDelayMs: number
  giveUpAfterMs: number
}

export const DEFAULT_ENQUEUE_RETRY: EnqueueRetryOptions = { firstDelayMs: 50, maxDelayMs: 2000, giveUpAfterMs: 30_000 }

/** Options of {@link SecurityEventPublisher}. */
export interface SecurityEventPublisherOptions {
  auth: Tessera
  /** Null: no webhooks, events only go to `onEvent` (mail). */
  queue: DeliveryQueue | null
  endpoints: readonly WebhookEndpoint[]
  /** The device of the request being served, if any (the server's request context). */
  requestDevice?: () => RequestDevice | null
  /** Called after an event is queued (mail, metrics). */
  onEvent?: (event: SecurityEvent) => void
  /** An event that could not be queued (store down past the retries): logged by the caller. */
  onError?: (err: unknown, event: SecurityEvent) => void
  enqueueRetry?: Partial<EnqueueRetryOptions>
}

/**
 * Turns the engine's events (and the server's own, like password changes)
 * into security events and queues one delivery per subscribed endpoint. Each
 * event is queued by the instance that did the operation, so a fleet queues
 * it once.
 */
export class SecurityEventPublisher {
  readonly #options: SecurityEventPublisherOptions
  readonly #unsubscribe: (() => void)[] = []
  readonly #pending = new Set<Promise<void>>()
  readonly #retry: EnqueueRetryOptions
  /** Wakes the enqueues waiting to retry (on close). */
  readonly #waiting = new Set<() => void>()
  #closing = false

  constructor(options: SecurityEventPublisherOptions) {
    this.#options = options
    this.#retry = { ...DEFAULT_ENQUEUE_RETRY, ...options.enqueueRetry }
    const { auth } = options
    const on = <K extends keyof TesseraEvents>(name: K, handler: (...args: TesseraEvents[K]) => void) => {
      auth.on(name, handler as never)
      this.#unsubscribe.push(() => auth.off(name, handler as never))
    }
    on('session_created', (e) => this.#track(this.#signedIn(e.userId, e.sessionId, sessionDevice(e.device))))
    // Both devices: the session's own (stored at sign-in) and the one that replayed its rotated-away token.
    on('refresh_reuse_detected', (e) =>
      this.publish('refresh_token.reuse_detected', {
        userId: e.userId,
        sessionId: e.sessionId,
        generation: e.generation,
        device: e.device ? sessionDevice(e.device) : null,
        presentedBy: options.requestDevice?.() ?? null,
      }),
    )
    on('session_revoked', (e) => this.publish('session.revoked', { userId: e.userId, sessionId: e.sessionId, reason: e.reason }))
    // A sign-in past the session limit ends the oldest session: a revocation like any other for the user.
    on('session_evicted', (e) => this.publish('session.revoked', { userId: e.userId, sessionId: e.sessionId, reason: 'evicted' }))
    on('sessions_revoked', (e) => this.publish('user.sessions_revoked', { userId: e.userId, count: e.count, exceptSessionId: e.exceptSessionId, reason: e.reason }))
    on('user_banned', (e) =>
      this.publish('user.banned', { userId: e.userId, until: e.untilMs === null ? null : new Date(e.untilMs).toISOString(), reason: e.reason, sessionsRevoked: e.sessionsRevoked }),
    )
    on('user_unbanned', (e) => this.publish('user.unbanned', { userId: e.userId }))
  }

  /** A new sign-in; `newDevice` when none of the user's other live sessions has the same user agent. */
  async #signedIn(userId: string, sessionId: string, device: { userAgent: string; ip: string; name: string; deviceClass: string }): Promise<void> {
    let newDevice = true
    let otherSessions: number | null = null
    try {
      const others = (await this.#options.auth.listSessions(userId)).filter((s) => s.sessionId !== sessionId)
      otherSessions = others.length
      newDevice = !others.some((s) => s.device.userAgent === device.userAgent)
    } catch {
      // The store just answered the sign-in; if it cannot list now, err on the side of telling.
    }
    this.publish('session.signed_in', { userId, sessionId, newDevice, otherSessions, device })
  }

  /** A password change or reset, with the device of the request that made it (null outside an HTTP request). */
  passwordChanged(userId: string, how: 'changed' | 'reset'): void {
    this.publish('user.password_changed', { userId, how, device: this.#options.requestDevice?.() ?? null })
  }

  /** Queues one event for every endpoint subscribed to its type. Never throws; failures go to `onError`. */
  publish(type: SecurityEventType, data: SecurityEvent['data']): void {
    const event: SecurityEvent = { type, timestamp: new Date(this.#options.auth.options.clock.nowMs()).toISOString(), data }
    const endpoints = this.#options.endpoints.filter((e) => e.events.has(type))
    const payload = JSON.stringify(event)
    const messageId = `msg_${randomBytes(16).toString('base64url')}`
    const queue = this.#options.queue
    const items = endpoints.map((e) => ({ messageId, destination: e.id, payload }))
    const queued = items.length === 0 || !queue ? Promise.resolve() : this.#withRetry(() => queue.enqueue(items, this.#options.auth.options.clock.nowMs()))
    this.#track(queued.then(() => this.#options.onEvent?.(event)).catch((err: unknown) => this.#options.onError?.(err, event)))
  }

  /**
   * The operation is already done, so its event must not die with one failed write: try again for a while.
   * A write that failed only on the way back (timed out after Redis took it) is queued twice, with the same
   * `webhook-id`: at least once, as the receivers are told.
   */
  async #withRetry(enqueue: () => Promise<void>): Promise<void> {
    const startedMs = Date.now()
    for (let delayMs = this.#retry.firstDelayMs; ; delayMs = Math.min(delayMs * 2, this.#retry.maxDelayMs)) {
      try {
        return await enqueue()
      } catch (err) {
        if (this.#closing || Date.now() - startedMs + delayMs > this.#retry.giveUpAfterMs) throw err
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer)
            this.#waiting.delete(wake)
            resolve()
          }
          const timer = setTimeout(wake, delayMs)
          this.#waiting.add(wake)
        })
      }
    }
  }

  #track(work: Promise<void>): void {
    this.#pending.add(work)
    void work.finally(() => this.#pending.delete(work))
  }

  /** Stops listening and waits for events being queued; one waiting to be retried gets a last attempt at once. */
  async close(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) off()
    this.#closing = true
    for (const wake of [...this.#waiting]) wake()
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }
}
