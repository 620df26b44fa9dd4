export { RedisSessionStore, type RedisSessionStoreOptions } from './redis-session-store.js'
export type { RedisDurability } from './replication-wait.js'
export type { RedisStoreDiagnostics, RedisStoreDiagnosticsOptions } from './store-diagnostics.js'
export type { RedisConnection, RedisConnectionOptions, RedisArg, SendOptions } from './connection.js'
export { RedisDeliveryQueue, type RedisDeliveryQueueOptions } from './redis-delivery-queue.js'
export { RedisRateLimitCounters, type RateLimitCount, type RateLimitWindow } from './rate-limit-counters.js'
export {
  redisOptionsFromEnv,
  topologyOf,
  type RedisTopologyOptions,
  type RedisTopology,
  type RedisNodeAddress,
  type RedisTlsOptions,
  type RedisSentinelOptions,
  type RedisClusterOptions,
} from './redis-config.js'
export { assertMemoryPolicy, checkMemoryPolicy, UnsafeMemoryPolicy, REQUIRED_MAXMEMORY_POLICY, type MemoryPolicyReport } from './memory-policy.js'
