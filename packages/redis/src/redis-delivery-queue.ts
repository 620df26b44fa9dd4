import { DEAD_LETTER_LIMIT, type DeadDelivery, type DeliveryQueue, type NewDelivery, type QueuedDelivery } from '@tessera/core'
import type { RedisConnection } from './connection.js'
import { KeyNames } from './key-names.js'
import { Scripts } from './scripts.js'
import { traceCommand } from './telemetry.js'

/** Options of {@link RedisDeliveryQueue}. */
export interface RedisDeliveryQueueOptions {
  /** Same meaning as the store's; default `tessera:`. */
  keyPrefix?: string
  /** Name of the queue (`webhooks`). */
  name: string
}

/** The fields of one item as they sit in the stream (`j`), the retry set and the dead letters. */
interface StoredItem {
  m: string
  d: string
  p: string
  a: number
  t: number
}

const GROUP = 'deliverers'

function encode(item: StoredItem): string {
  return JSON.stringify({ m: item.m, d: item.d, p: item.p, a: item.a, t: item.t })
}

/** [id, [field, value, ...]] entries of XREADGROUP / XAUTOCLAIM, the value of field `j` decoded. */
function items(entries: unknown): QueuedDelivery[] {
  const out: QueuedDelivery[] = []
  for (const entry of (entries as [string, string[] | null][] | null) ?? []) {
    const [receipt, fields] = entry
    // XAUTOCLAIM returns entries deleted meanwhile with nil fields: nothing to deliver.
    if (!fields) continue
    const json = fields[fields.indexOf('j') + 1]
    if (json === undefined) continue
    const s = JSON.parse(json) as StoredItem
    out.push({ receipt, messageId: s.m, destination: s.d, payload: s.p, attempt: s.a, queuedAtMs: s.t })
  }
  return out
}

/**
 * The Redis store's {@link DeliveryQueue}: a stream read by one consumer group
 * that every instance joins, so each item goes to one instance; a sorted set
 * holds retries until their time; a capped stream keeps the dead letters. All
 * three keys share one hash tag (Cluster-safe scripts). A taken item that is
 * not settled within `leaseMs` (its taker crashed) is claimed by another
 * instance (XAUTOCLAIM; the lease is measured on the Redis server's clock);
 * once it holds nothing, its name leaves the group ({@link forgetIdleConsumers}).
 *
 * @example
 * ```ts
 * const queue = await RedisDeliveryQueue.open(store.connection, { keyPrefix: 'tessera:', name: 'webhooks' })
 * ```
 */
export class RedisDeliveryQueue implements DeliveryQueue {
  readonly #connection: RedisConnection
  readonly #keys: { stream: string; retries: string; dead: string }
  readonly #scripts = new Scripts()

  private constructor(connection: RedisConnection, options: RedisDeliveryQueueOptions) {
    this.#connection = connection
    this.#keys = new KeyNames(options.keyPrefix ?? 'tessera:').deliveryQueue(options.name)
  }

  /** Creates the consumer group if needed. The connection stays the caller's. */
  static async open(connection: RedisConnection, options: RedisDeliveryQueueOptions): Promise<RedisDeliveryQueue> {
    if (!/^[a-z0-9-]{1,32}$/.test(options.name)) throw new TypeError('"name" option must be 1-32 of a-z, 0-9, -')
    const queue = new RedisDeliveryQueue(connection, options)
    await queue.#createGroup()
    return queue
  }

  async #createGroup(): Promise<void> {
    const { stream } = this.#keys
    try {
      // From id 0: items queued before the group existed are delivered too.
      await traceCommand('XGROUP delivery-queue', 'XGROUP', null, () => this.#connection.send(['XGROUP', 'CREATE', stream, GROUP, '0', 'MKSTREAM'], { key: stream }))
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('BUSYGROUP')) throw err
    }
  }

  async enqueue(newItems: readonly NewDelivery[], nowMs: number): Promise<void> {
    const { stream } = this.#keys
    await Promise.all(
      newItems.map((item) =>
        traceCommand('XADD delivery-queue', 'XADD', null, () =>
          this.#connection.send(['XADD', stream, '*', 'j', encode({ m: item.messageId, d: item.destination, p: item.payload, a: 1, t: nowMs })], { key: stream }),
        ),
      ),
    )
  }

  async take(consumer: string, options: { count: number; nowMs: number; leaseMs: number }): Promise<QueuedDelivery[]> {
    const { stream, retries } = this.#keys
    // Every poll runs these three, work or not: no span per idle poll (docs/observability.md). Settling a taken item is traced.
    await this.#scripts.call(this.#connection, 'promoteDeliveries', [retries, stream], { nowMs: options.nowMs, count: options.count }, { untraced: true })
    const claimed = (await this.#connection.send(['XAUTOCLAIM', stream, GROUP, consumer, String(options.leaseMs), '0-0', 'COUNT', String(options.count)], { key: stream })) as [string, unknown, unknown]
    const taken = items(claimed[1])
    if (taken.length >= options.count) return taken
    let fresh: unknown
    try {
      fresh = await this.#connection.send(['XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', String(options.count - taken.length), 'STREAMS', stream, '>'], { key: stream })
    } catch (err) {
      // The stream was deleted by hand (or by a FLUSHALL): make the group again and take next time.
      if (err instanceof Error && err.message.startsWith('NOGROUP')) {
        await this.#createGroup()
        return taken
      }
      throw err
    }
    // RESP2 [[stream, entries]] or RESP3 { stream: entries }, depending on the client's protocol.
    const entries = Array.isArray(fresh) ? (fresh as [string, unknown][])[0]?.[1] : fresh && typeof fresh === 'object' ? Object.values(fresh)[0] : null
    return taken.concat(items(entries))
  }

  async ack(item: QueuedDelivery): Promise<void> {
    await this.#scripts.call(this.#connection, 'ackDelivery', [this.#keys.stream], { group: GROUP, entryId: item.receipt })
  }

  async retry(item: QueuedDelivery, options: { atMs: number; nowMs: number }): Promise<void> {
    const fields = encode({ m: item.messageId, d: item.destination, p: item.payload, a: item.attempt + 1, t: item.queuedAtMs })
    await this.#scripts.call(this.#connection, 'retryDelivery', [this.#keys.stream, this.#keys.retries], { group: GROUP, entryId: item.receipt, dueAtMs: options.atMs, fields })
  }

  async deadLetter(item: QueuedDelivery, options: { nowMs: number; error: string }): Promise<void> {
    const dead: DeadDelivery = { messageId: item.messageId, destination: item.destination, payload: item.payload, attempt: item.attempt, queuedAtMs: item.queuedAtMs, failedAtMs: options.nowMs, error: options.error }
    await this.#scripts.call(this.#connection, 'deadLetterDelivery', [this.#keys.stream, this.#keys.dead], { group: GROUP, entryId: item.receipt, fields: JSON.stringify(dead), kept: DEAD_LETTER_LIMIT })
  }

  async forgetIdleConsumers(self: string, options: { idleMs: number }): Promise<string[]> {
    const reply = await this.#scripts.call(this.#connection, 'forgetIdleConsumers', [this.#keys.stream], { group: GROUP, idleMs: options.idleMs, self })
    return reply.payload.map(String)
  }

  async deadLetters(limit: number): Promise<DeadDelivery[]> {
    const { dead } = this.#keys
    const entries = (await traceCommand('XREVRANGE delivery-queue-dead', 'XREVRANGE', null, () => this.#connection.send(['XREVRANGE', dead, '+', '-', 'COUNT', String(limit)], { key: dead }))) as [string, string[]][]
    return entries.map(([, fields]) => JSON.parse(fields[1] ?? '{}') as DeadDelivery)
  }

  async depth(): Promise<number> {
    const { stream, retries } = this.#keys
    const [inStream, waiting] = await Promise.all([
      traceCommand('XLEN delivery-queue', 'XLEN', null, () => this.#connection.send(['XLEN', stream], { key: stream })),
      traceCommand('ZCARD delivery-queue-retries', 'ZCARD', null, () => this.#connection.send(['ZCARD', retries], { key: retries })),
    ])
    return Number(inStream) + Number(waiting)
  }
}
