import { randomBytes } from 'node:crypto'
import { type Clock, type DeliveryQueue, type QueuedDelivery, signWebhook } from '@tessera/core'
import type { WebhookEndpoint } from './endpoints.js'

/** How deliveries are paced and bounded. */
export interface WebhookDeliveryOptions {
  /** Attempts before an item is dead-lettered. Default 12: with the default delays the 12th comes 8715 s (2 h 25 min; 80-100% of it with jitter) after the first. */
  maxAttempts: number
  /** Delay after the first failure; doubles each attempt (with jitter), up to `maxDelayMs`. Default 5000. */
  baseDelayMs: number
  maxDelayMs: number
  /** Time a receiver has to answer. Default 10000. */
  requestTimeoutMs: number
  /** A taken item not settled in this time is taken over by another instance. Must exceed `requestTimeoutMs`. Default 60000. */
  leaseMs: number
  /** Wait between polls of an empty queue. Default 500. */
  pollMs: number
  /** Items taken per poll, delivered concurrently. Default 16. */
  batch: number
}

export const DEFAULT_WEBHOOK_DELIVERY: WebhookDeliveryOptions = {
  maxAttempts: 12,
  baseDelayMs: 5000,
  maxDelayMs: 3_600_000,
  requestTimeoutMs: 10_000,
  leaseMs: 60_000,
  pollMs: 500,
  batch: 16,
}

/** What happened to one attempt: for logs and metrics. */
export interface DeliveryReport {
  endpointId: string
  messageId: string
  attempt: number
  outcome: 'delivered' | 'retry' | 'dead'
  /** HTTP status, or null when no answer came. */
  status: number | null
  error: string | null
}

/**
 * Takes queued deliveries and POSTs them, signed, to their endpoints: a 2xx
 * settles an item; anything else (status, timeout, refused connection) retries
 * it with exponential backoff until `maxAttempts`, then dead-letters it. Runs
 * on every instance; the queue hands each item to one of them.
 */
export class WebhookDeliverer {
  readonly #queue: DeliveryQueue
  readonly #endpoints: ReadonlyMap<string, WebhookEndpoint>
  readonly #options: WebhookDeliveryOptions
  readonly #clock: Clock
  readonly #onReport: (report: DeliveryReport) => void
  readonly #onError: (err: unknown) => void
  /** This instance's name in the consumer group. */
  readonly consumer = `deliverer-${randomBytes(6).toString('hex')}`
  #running: Promise<void> | null = null
  #stopping = false
  #wake: (() => void) | null = null
  #lastForgetMs = 0

  constructor(input: {
    queue: DeliveryQueue
    endpoints: readonly WebhookEndpoint[]
    clock: Clock
    options?: Partial<WebhookDeliveryOptions>
    onReport?: (report: DeliveryReport) => void
    onError?: (err: unknown) => void
  }) {
    const options = { ...DEFAULT_WEBHOOK_DELIVERY, ...input.options }
    for (const [name, value] of Object.entries(options)) {
      if (!Number.isInteger(value) || value < 1) throw new TypeError(`"${name}" option must be a positive integer`)
    }
    if (options.leaseMs <= options.requestTimeoutMs) throw new TypeError('"leaseMs" option must exceed "requestTimeoutMs"')
    this.#queue = input.queue
    this.#endpoints = new Map(input.endpoints.map((e) => [e.id, e]))
    this.#options = options
    this.#clock = input.clock
    this.#onReport = input.onReport ?? (() => {})
    this.#onError = input.onError ?? (() => {})
  }

  /** Starts polling; idempotent. */
  start(): void {
    if (this.#running || this.#stopping) return
    this.#running = this.#loop()
  }

  /** Stops taking new items and waits for the deliveries in flight to settle. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping = true
    this.#wake?.()
    await this.#running
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      let took = 0
      try {
        took = await this.runOnce()
        await this.#forgetGoneConsumers()
      } catch (err) {
        // The store is down: report and poll again later; items stay queued.
        this.#onError(err)
      }
      if (took === 0 && !this.#stopping) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#options.pollMs)
          this.#wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        this.#wake = null
      }
    }
  }

  /** Takes one batch and delivers it; returns how many items it took. */
  async runOnce(): Promise<number> {
    const items = await this.#queue.take(this.consumer, { count: this.#options.batch, nowMs: this.#clock.nowMs(), leaseMs: this.#options.leaseMs })
    await Promise.all(items.map((item) => this.#deliver(item).catch((err: unknown) => this.#onError(err))))
    return items.length
  }

  /**
   * Once per lease: names of instances that are gone leave the consumer group. A live instance reads at least
   * every lease (a poll, or the end of a batch bounded by the request timeout), so twice the lease idle means gone;
   * one only slow is simply added again by its next read.
   */
  async #forgetGoneConsumers(): Promise<void> {
    const nowMs = this.#clock.nowMs()
    if (nowMs - this.#lastForgetMs < this.#options.leaseMs) return
    this.#lastForgetMs = nowMs
    await this.#queue.forgetIdleConsumers(this.consumer, { idleMs: 2 * this.#options.leaseMs })
  }

  async #deliver(item: QueuedDelivery): Promise<void> {
    const endpoint = this.#endpoints.get(item.destination)
    if (!endpoint) {
      await this.#queue.deadLetter(item, { nowMs: this.#clock.nowMs(), error: 'endpoint is no longer configured' })
      this.#onReport({ endpointId: item.destination, messageId: item.messageId, attempt: item.attempt, outcome: 'dead', status: null, error: 'endpoint is no longer configured' })
      return
    }
    let status: number | null = null
    let error: string | null = null
    try {
      const headers = signWebhook({ secret: endpoint.secret, id: item.messageId, timestampSeconds: Math.floor(this.#clock.nowMs() / 1000), body: item.payload })
      const response = await fetch(endpoint.url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'tessera-webhooks/1' },
        body: item.payload,
        // A redirect is an answer we do not follow: the signature was made for this URL's receiver.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#options.requestTimeoutMs),
      })
      status = response.status
      // Read (and drop) the body so the connection can be reused.
      await response.arrayBuffer().catch(() => undefined)
      if (status >= 200 && status < 300) {
        await this.#settle(() => this.#queue.ack(item))
        this.#onReport({ endpointId: endpoint.id, messageId: item.messageId, attempt: item.attempt, outcome: 'delivered', status, error: null })
        return
      }
      error = `HTTP ${status}`
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string } }
      error = e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.name ?? 'request failed')
    }
    const nowMs = this.#clock.nowMs()
    if (item.attempt >= this.#options.maxAttempts) {
      await this.#queue.deadLetter(item, { nowMs, error })
      this.#onReport({ endpointId: endpoint.id, messageId: item.messageId, attempt: item.attempt, outcome: 'dead', status, error })
      return
    }
    await this.#queue.retry(item, { atMs: nowMs + this.delayMs(item.attempt), nowMs })
    this.#onReport({ endpointId: endpoint.id, messageId: item.messageId, attempt: item.attempt, outcome: 'retry', status, error })
  }

  /**
   * Settles an item, trying again on a store error: an acknowledgement lost to a blip would have another
   * instance deliver the item again after the lease. Gives up (the item is then redelivered) after 4 tries.
   */
  async #settle(step: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await step()
      } catch (err) {
        if (attempt >= 4 || this.#stopping) throw err
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt))
      }
    }
  }

  /** Delay before the attempt after `attempt`: doubling, capped, with up to 20% jitter so a fleet does not retry in step. */
  delayMs(attempt: number): number {
    const base = Math.min(this.#options.maxDelayMs, this.#options.baseDelayMs * 2 ** Math.min(attempt - 1, 30))
    return Math.round(base * (0.8 + Math.random() * 0.2))
  }
}
