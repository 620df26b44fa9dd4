export { RedisSessionStore, type RedisSessionStoreOptions } from './redis-session-store.js'
export { NodeRedisConnection, type RedisConnection, type RedisConnectionOptions, type RedisArg, type SendOptions } from './connection.js'
export { KeyNames } from './key-names.js'
