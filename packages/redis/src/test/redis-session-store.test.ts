import { dpopStoreContract } from '../../../../test/support/store-contract-dpop.js'
import { storeContract } from '../../../../test/support/store-contract.js'
import { redisStoreForTest } from '../../../../test/support/redis.js'

const factory = {
  name: 'RedisSessionStore',
  async create() {
    const made = await redisStoreForTest('contract')
    return { store: made.store, cleanup: () => made.cleanup() }
  },
}
storeContract(factory)
dpopStoreContract(factory)
