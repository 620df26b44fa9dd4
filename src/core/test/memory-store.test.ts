import { MemoryStore } from '../memory-store.js'
import { storeContract } from './store-contract.js'

storeContract({
  name: 'MemoryStore',
  async create() {
    const store = new MemoryStore()
    return { store, cleanup: () => store.close() }
  },
})
