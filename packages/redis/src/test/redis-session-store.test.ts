import { storeContract } from '../../../../test/support/store-contract.js'
import { redisStoreForTest } from '../../../../test/support/redis.js'

storeContract({
  name: 'RedisSessionStore',
  async create() {
    const made = await redisStoreForTest('contract')
    return { store: made.store, cleanup: () => made.cleanup() }
  },
})
