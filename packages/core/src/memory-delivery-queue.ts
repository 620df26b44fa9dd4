import { DEAD_LETTER_LIMIT, type DeadDelivery, type DeliveryQueue, type NewDelivery, type QueuedDelivery } from './delivery-queue.js'

interface Item extends NewDelivery {
  attempt: number
  queuedAtMs: number
  /** When it may be handed out (retry time). */
  dueAtMs: number
  /** Consumer and time of the current hand-out; null while waiting. */
  takenBy: string | null
  takenAtMs: number
}

/** A {@link MemoryDeliveryQueue}'s items and dead letters, as the embedded store's snapshot holds them. */
export interface MemoryDeliveryQueueState {
  /** Waiting items by receipt, in hand-out order; who had taken one is not kept (that process is gone). */
  items: [string, NewDelivery & { attempt: number; queuedAtMs: number; dueAtMs: number }][]
  dead: DeadDelivery[]
  next: number
}

/**
 * The memory store's {@link DeliveryQueue}: one process, same behaviour as
 * the Redis queue (the same contract tests run against both). On its own it
 * is lost with the process; the embedded server's queue is
 * `PersistentMemoryStore.deliveryQueue`, kept in the store's journal.
 */
export class MemoryDeliveryQueue implements DeliveryQueue {
  readonly #items = new Map<string, Item>()
  readonly #dead: DeadDelivery[] = []
  #next = 0

  async enqueue(items: readonly NewDelivery[], nowMs: number): Promise<void> {
    for (const item of items) {
      this.#items.set(String(++this.#next), { ...item, attempt: 1, queuedAtMs: nowMs, dueAtMs: nowMs, takenBy: null, takenAtMs: 0 })
    }
  }

  async take(consumer: string, options: { count: number; nowMs: number; leaseMs: number }): Promise<QueuedDelivery[]> {
    const taken: QueuedDelivery[] = []
    for (const [receipt, item] of this.#items) {
      if (taken.length >= options.count) break
      const free = item.takenBy === null ? item.dueAtMs <= options.nowMs : options.nowMs - item.takenAtMs >= options.leaseMs
      if (!free) continue
      item.takenBy = consumer
      item.takenAtMs = options.nowMs
      taken.push({ receipt, messageId: item.messageId, destination: item.destination, payload: item.payload, attempt: item.attempt, queuedAtMs: item.queuedAtMs })
    }
    return taken
  }

  async ack(item: QueuedDelivery): Promise<void> {
    this.#items.delete(item.receipt)
  }

  async retry(item: QueuedDelivery, options: { atMs: number; nowMs: number }): Promise<void> {
    const held = this.#items.get(item.receipt)
    if (!held) return
    // A new receipt, as the Redis queue gives a retried item a new stream entry.
    this.#items.delete(item.receipt)
    this.#items.set(String(++this.#next), { ...held, attempt: item.attempt + 1, dueAtMs: options.atMs, takenBy: null, takenAtMs: 0 })
  }

  async deadLetter(item: QueuedDelivery, options: { nowMs: number; error: string }): Promise<void> {
    if (!this.#items.delete(item.receipt)) return
    const { messageId, destination, payload, attempt, queuedAtMs } = item
    this.#dead.push({ messageId, destination, payload, attempt, queuedAtMs, failedAtMs: options.nowMs, error: options.error })
    if (this.#dead.length > DEAD_LETTER_LIMIT) this.#dead.shift()
  }

  async forgetIdleConsumers(): Promise<string[]> {
    // Consumers exist here only as the name on a taken item: nothing to forget.
    return []
  }

  async deadLetters(limit: number): Promise<DeadDelivery[]> {
    return this.#dead.slice(-limit).reverse()
  }

  async depth(): Promise<number> {
    return this.#items.size
  }

  /** The whole queue, to be serialised at once (see memory-store-file.ts). */
  exportState(): MemoryDeliveryQueueState {
    const items = [...this.#items].map(([receipt, { messageId, destination, payload, attempt, queuedAtMs, dueAtMs }]) => [receipt, { messageId, destination, payload, attempt, queuedAtMs, dueAtMs }] as MemoryDeliveryQueueState['items'][number])
    return { items, dead: [...this.#dead], next: this.#next }
  }

  /**
   * Replaces everything with a state {@link exportState} produced (on start, before any call). Items come back
   * untaken: the process that had taken them is gone, so they are handed out again without waiting for a lease.
   */
  importState(state: MemoryDeliveryQueueState): void {
    this.#items.clear()
    for (const [receipt, item] of state.items) this.#items.set(receipt, { ...item, takenBy: null, takenAtMs: 0 })
    this.#dead.splice(0, this.#dead.length, ...state.dead)
    this.#next = state.next
  }
}
