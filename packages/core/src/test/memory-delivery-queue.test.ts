import { describe } from 'node:test'
import { MemoryDeliveryQueue } from '../memory-delivery-queue.js'
import { deliveryQueueContract } from '../../../../test/support/delivery-queue-contract.js'

describe('MemoryDeliveryQueue', () => {
  deliveryQueueContract(async () => ({ queue: new MemoryDeliveryQueue(), close: async () => {} }))
})
