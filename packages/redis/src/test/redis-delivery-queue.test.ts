import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { deliveryQueueContract } from '../../../../test/support/delivery-queue-contract.js'
import { redisStoreForTest } from '../../../../test/support/redis.js'
import { KeyNames } from '../key-names.js'
import { RedisDeliveryQueue } from '../redis-delivery-queue.js'

describe('RedisDeliveryQueue', () => {
  deliveryQueueContract(async () => {
    const { store, prefix, cleanup } = await redisStoreForTest('dq')
    const queue = await RedisDeliveryQueue.open(store.connection, { keyPrefix: prefix, name: 'webhooks' })
    return { queue, close: cleanup }
  })

  test('a consumer that died leaves the group once another took over what it held, not before; the caller always stays', async () => {
    const { store, prefix, cleanup } = await redisStoreForTest('dq')
    try {
      const queue = await RedisDeliveryQueue.open(store.connection, { keyPrefix: prefix, name: 'webhooks' })
      const { stream } = new KeyNames(prefix).deliveryQueue('webhooks')
      const consumers = async () => {
        const raw = (await store.connection.send(['XINFO', 'CONSUMERS', stream, 'deliverers'], { key: stream })) as unknown[][]
        return raw.map((flat) => String(flat[flat.indexOf('name') + 1])).sort()
      }
      const now = Date.now()
      await queue.enqueue([{ messageId: 'msg_1', destination: 'ep', payload: '{}' }], now)
      // 'dead' takes the item and never settles it; 'alive' joins and finds nothing inside the lease.
      assert.equal((await queue.take('dead', { count: 1, nowMs: now, leaseMs: 60_000 })).length, 1)
      assert.equal((await queue.take('alive', { count: 1, nowMs: now, leaseMs: 60_000 })).length, 0)
      // Holding an item keeps a consumer, however idle: removing it would drop the item from the group.
      assert.deepEqual(await queue.forgetIdleConsumers('alive', { idleMs: 0 }), [])
      assert.ok((await consumers()).includes('dead'))
      // After the lease 'alive' takes the item over (XAUTOCLAIM); 'dead' now holds nothing and goes.
      const [item] = await queue.take('alive', { count: 1, nowMs: now, leaseMs: 0 })
      assert.equal(item?.messageId, 'msg_1')
      assert.deepEqual(await queue.forgetIdleConsumers('alive', { idleMs: 60_000 }), [], 'not idle long enough yet')
      assert.deepEqual(await queue.forgetIdleConsumers('alive', { idleMs: 0 }), ['dead'])
      assert.deepEqual(await consumers(), ['alive'])
      await queue.ack(item)
      // The caller is never removed, even idle and empty; a removed consumer that takes again simply rejoins.
      assert.deepEqual(await queue.forgetIdleConsumers('alive', { idleMs: 0 }), [])
      await queue.enqueue([{ messageId: 'msg_2', destination: 'ep', payload: '{}' }], now)
      assert.equal((await queue.take('dead', { count: 1, nowMs: now, leaseMs: 60_000 })).length, 1)
      assert.deepEqual(await consumers(), ['alive', 'dead'])
    } finally {
      await cleanup()
    }
  })

  test('forgetting consumers of a queue whose stream was deleted is a no-op', async () => {
    const { store, prefix, cleanup } = await redisStoreForTest('dq')
    try {
      const queue = await RedisDeliveryQueue.open(store.connection, { keyPrefix: prefix, name: 'webhooks' })
      const { stream } = new KeyNames(prefix).deliveryQueue('webhooks')
      await store.connection.send(['DEL', stream], { key: stream })
      assert.deepEqual(await queue.forgetIdleConsumers('a', { idleMs: 0 }), [])
    } finally {
      await cleanup()
    }
  })
})
