import { ClusterConnection } from './cluster-connection.js'
import { NodeRedisConnection, type RedisConnection, type RedisConnectionOptions } from './connection.js'
import { topologyOf } from './redis-config.js'
import { SentinelConnection } from './sentinel-connection.js'

/**
 * Opens the connection the options select: `url` (standalone), `sentinel` or
 * `cluster`, each with the same ACL and TLS settings.
 *
 * @example
 * ```ts
 * const connection = await openRedisConnection({ cluster: { nodes: [{ host: '10.0.0.1', port: 6379 }] } })
 * ```
 */
export async function openRedisConnection(options: RedisConnectionOptions = {}): Promise<RedisConnection> {
  switch (topologyOf(options)) {
    case 'sentinel':
      return SentinelConnection.open(options)
    case 'cluster':
      return ClusterConnection.open(options)
    default:
      return NodeRedisConnection.open(options)
  }
}
