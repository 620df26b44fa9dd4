// The gap between an operation and the queuing of its event: the store answered the operation, then failed
// (a blip, a failover). The event is tried again for a bounded time instead of being dropped at the first failure.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createTessera, generateWebhookSecret, MemoryDeliveryQueue, MemoryStore, SigningKeySet, StoreUnavailable, type NewDelivery } from '@tessera/core'
import { waitFor } from '../../../../../test/support/redis.js'
import { resolveWebhookEndpoints } from '../webhooks/endpoints.js'
import { SecurityEventPublisher, type SecurityEvent, type SecurityEventPublisherOptions } from '../webhooks/security-events.js'

/** A memory queue whose enqueue fails while `down` says so, counting the attempts. */
class FlakyQueue extends MemoryDeliveryQueue {
  attempts = 0
  constructor(readonly down: (attempt: number) => boolean) {
    super()
  }

  override async enqueue(items: readonly NewDelivery[], nowMs: number): Promise<void> {
    this.attempts += 1
    if (this.down(this.attempts)) throw new StoreUnavailable('session store is unavailable')
    return super.enqueue(items, nowMs)
  }
}

async function rig(queue: FlakyQueue, enqueueRetry: SecurityEventPublisherOptions['enqueueRetry']) {
  const store = new MemoryStore()
  const auth = await createTessera({ store, keys: await SigningKeySet.generate(), issuer: 'https://auth.test', audience: 'api', heartbeatIntervalMs: 0 })
  const queued: SecurityEvent[] = []
  const lost: SecurityEvent[] = []
  const endpoints = resolveWebhookEndpoints([{ id: 'siem', url: 'https://hooks.example/in', secret: generateWebhookSecret(), events: ['user.banned'] }])
  const publisher = new SecurityEventPublisher({ auth, queue, endpoints, enqueueRetry, onEvent: (e) => queued.push(e), onError: (_err, e) => lost.push(e) })
  return { auth, publisher, queued, lost, close: async () => (await publisher.close(), await auth.close(), await store.close()) }
}

void test('an event whose enqueue fails right after its operation is queued once the store answers again, not lost', async () => {
  const queue = new FlakyQueue((attempt) => attempt <= 3)
  const { auth, queued, lost, close } = await rig(queue, { firstDelayMs: 5, maxDelayMs: 20, giveUpAfterMs: 10_000 })
  try {
    await auth.banUser('u-blip', { reason: 'test' })
    await waitFor(() => queued.length + lost.length > 0, 10_000, 5)
    assert.deepEqual([queued.map((e) => e.type), lost.length, queue.attempts, await queue.depth()], [['user.banned'], 0, 4, 1])
  } finally {
    await close()
  }
})

void test('a store down past the retry bound: the event is given up once, counted as lost by the caller', async () => {
  const queue = new FlakyQueue(() => true)
  const { auth, queued, lost, close } = await rig(queue, { firstDelayMs: 5, maxDelayMs: 20, giveUpAfterMs: 200 })
  try {
    await auth.banUser('u-outage', { reason: 'test' })
    await waitFor(() => lost.length > 0, 10_000, 5)
    assert.equal(queued.length, 0)
    assert.equal(lost.length, 1)
    assert.ok(queue.attempts >= 3, `${queue.attempts} attempts`)
  } finally {
    await close()
  }
})

void test('closing the publisher makes a waiting event\'s last attempt at once, and waits for it', async () => {
  const queue = new FlakyQueue((attempt) => attempt === 1)
  // A retry an hour away: only the close can make it happen within the test.
  const { auth, publisher, queued, lost, close } = await rig(queue, { firstDelayMs: 3_600_000, maxDelayMs: 3_600_000, giveUpAfterMs: 7_200_000 })
  try {
    await auth.banUser('u-closing', { reason: 'test' })
    await waitFor(() => queue.attempts === 1, 10_000, 5)
    await publisher.close()
    assert.deepEqual([queued.length, lost.length, queue.attempts], [1, 0, 2])
  } finally {
    await close()
  }
})
