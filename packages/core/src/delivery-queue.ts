/**
 * The port for durable, at-least-once delivery queues (webhooks), beside
 * {@link SessionStore}: the Redis store keeps one in a stream with a consumer
 * group, the memory store in process. Every instance of a fleet takes from the
 * same queue, so each item is handed to one taker at a time. Times are epoch ms
 * passed in by the caller.
 */
export interface DeliveryQueue {
  /** Adds items; each is handed out until it is acknowledged or dead-lettered. */
  enqueue(items: readonly NewDelivery[], nowMs: number): Promise<void>
  /**
   * Up to `count` items for `consumer`: new ones, retries whose time has come
   * (`nowMs`), and items another consumer took more than `leaseMs` ago without
   * settling (it crashed or was stopped). Every taken item must be settled
   * with {@link ack}, {@link retry} or {@link deadLetter}.
   */
  take(consumer: string, options: { count: number; nowMs: number; leaseMs: number }): Promise<QueuedDelivery[]>
  /** Delivered: forget the item. */
  ack(item: QueuedDelivery): Promise<void>
  /** Hand the item out again at `atMs`, one attempt further. */
  retry(item: QueuedDelivery, options: { atMs: number; nowMs: number }): Promise<void>
  /** Give up: the item moves to the dead letters (the newest `DEAD_LETTER_LIMIT` are kept). */
  deadLetter(item: QueuedDelivery, options: { nowMs: number; error: string }): Promise<void>
  /**
   * Removes consumers other than `self` that hold no item and have not
   * taken for `idleMs` (instances that are gone), so names do not pile up
   * in the Redis group; returns their names. A gone consumer's items are
   * first taken over by {@link take} after the lease. The memory queue keeps
   * no consumers: it returns none.
   */
  forgetIdleConsumers(self: string, options: { idleMs: number }): Promise<string[]>
  /** Dead letters, newest first. */
  deadLetters(limit: number): Promise<DeadDelivery[]>
  /** Items waiting (new, taken, or scheduled for retry): for metrics. */
  depth(): Promise<number>
}

/** How many dead letters a queue keeps. */
export const DEAD_LETTER_LIMIT = 1000

/** One delivery to add: a message for one destination. */
export interface NewDelivery {
  /** Id of the message, the same on every attempt (the `webhook-id`). */
  messageId: string
  /** Which destination (endpoint id). */
  destination: string
  /** The body, exactly as it will be sent. */
  payload: string
}

/** A taken delivery; `attempt` is 1 on the first try. */
export interface QueuedDelivery extends NewDelivery {
  /** The queue's handle of this hand-out; settle with it. */
  receipt: string
  attempt: number
  /** When the message was first queued. */
  queuedAtMs: number
}

/** A delivery given up on. */
export interface DeadDelivery extends NewDelivery {
  attempt: number
  queuedAtMs: number
  failedAtMs: number
  error: string
}
