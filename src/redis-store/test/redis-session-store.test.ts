import { dpopStoreContract } from '../../core/test/store-contract-dpop.js'
import { storeContract } from '../../core/test/store-contract.js'
import { redisStoreForTest } from '../../test-support/redis.js'

const factory = {
  name: 'RedisSessionStore',
  async create() {
    const made = await redisStoreForTest('contract')
    return { store: made.store, cleanup: () => made.cleanup() }
  },
}
storeContract(factory)
dpopStoreContract(factory)
