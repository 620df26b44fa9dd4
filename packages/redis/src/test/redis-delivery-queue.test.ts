import { describe } from 'node:test'
import { deliveryQueueContract } from '../../../../test/support/delivery-queue-contract.js'
import { redisStoreForTest } from '../../../../test/support/redis.js'
import { RedisDeliveryQueue } from '../redis-delivery-queue.js'

describe('RedisDeliveryQueue', () => {
  deliveryQueueContract(async () => {
    const { store, prefix, cleanup } = await redisStoreForTest('dq')
    const queue = await RedisDeliveryQueue.open(store.connection, { keyPrefix: prefix, name: 'webhooks' })
    return { queue, close: cleanup }
  })
})
