import { readFileSync } from 'node:fs'
import type { RedisClientOptions } from 'redis'

/** A Redis node or sentinel address. */
export interface RedisNodeAddress {
  host: string
  port: number
}

/** TLS material (PEM contents, not paths: {@link redisOptionsFromEnv} reads the files). */
export interface RedisTlsOptions {
  /** CA that signed the server certificates. Default: the system roots. */
  ca?: string | Buffer
  /** Client certificate, when the server requires one (`tls-auth-clients yes`). */
  cert?: string | Buffer
  /** Key of the client certificate. */
  key?: string | Buffer
  /** Name to check the server certificate against, when it differs from the host. */
  servername?: string
}

/** A Sentinel-managed master. */
export interface RedisSentinelOptions {
  /** Some of the sentinels (three is enough to discover the rest). */
  nodes: RedisNodeAddress[]
  /** The master name the sentinels monitor (`sentinel monitor <name> ...`). */
  masterName: string
  /** ACL user of the sentinels themselves, when they require AUTH. */
  username?: string
  password?: string
  /** Whether the sentinels speak TLS (with the same `tls` material). Default: as the data nodes. */
  tls?: boolean
}

/** A Redis Cluster. */
export interface RedisClusterOptions {
  /** Seed nodes; the rest of the cluster is discovered from them. */
  nodes: RedisNodeAddress[]
}

/**
 * One configuration surface for every topology: give `url` (standalone),
 * `sentinel` or `cluster`. `username`/`password` (ACL) and `tls` apply to
 * every data node whatever the topology.
 */
export interface RedisTopologyOptions {
  /** Standalone: `redis://` or `rediss://` (TLS) URL, user and password may be in it. */
  url?: string
  sentinel?: RedisSentinelOptions
  cluster?: RedisClusterOptions
  /** ACL user of the data nodes. */
  username?: string
  password?: string
  /** Use TLS with this material (a `rediss://` URL turns TLS on by itself). */
  tls?: RedisTlsOptions
}

/** Which topology a set of options selects. */
export type RedisTopology = 'standalone' | 'sentinel' | 'cluster'

/** The topology `options` select; a TypeError when they select none or more than one. */
export function topologyOf(options: RedisTopologyOptions): RedisTopology {
  const chosen = [options.url !== undefined && 'standalone', options.sentinel !== undefined && 'sentinel', options.cluster !== undefined && 'cluster'].filter(Boolean)
  if (chosen.length > 1) throw new TypeError('"url", "sentinel" and "cluster" options are exclusive: give one')
  // No silent default: a store that quietly opened localhost, database 0, would share state with whatever else runs there.
  if (chosen.length === 0) throw new TypeError('give one of the "url", "sentinel" or "cluster" options: the store never assumes a local Redis')
  if (options.sentinel) {
    if (!Array.isArray(options.sentinel.nodes) || options.sentinel.nodes.length === 0) throw new TypeError('"sentinel.nodes" option must list at least one sentinel')
    if (typeof options.sentinel.masterName !== 'string' || options.sentinel.masterName === '') throw new TypeError('"sentinel.masterName" option must be a non-empty string')
    return 'sentinel'
  }
  if (options.cluster) {
    if (!Array.isArray(options.cluster.nodes) || options.cluster.nodes.length === 0) throw new TypeError('"cluster.nodes" option must list at least one node')
    return 'cluster'
  }
  return 'standalone'
}

/** node-redis socket options for TLS material. */
export function tlsSocketOptions(tls: RedisTlsOptions | undefined): Record<string, unknown> {
  if (!tls) return {}
  return {
    tls: true,
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
  }
}

/** node-redis client options for one data node: credentials and TLS. */
export function dataNodeClientOptions(options: RedisTopologyOptions): RedisClientOptions {
  return {
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(options.tls ? { socket: tlsSocketOptions(options.tls) } : {}),
  }
}

/** Parses `host:port,host:port` (IPv6 as `[::1]:6379`). */
export function parseNodeList(value: string, variable: string): RedisNodeAddress[] {
  const nodes = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry) => {
      const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(entry)
      const port = match ? Number(match[3]) : NaN
      if (!match || port < 1 || port > 65535) throw new TypeError(`${variable} must be a comma-separated list of host:port, got "${entry}"`)
      return { host: match[1] ?? match[2]!, port }
    })
  if (nodes.length === 0) throw new TypeError(`${variable} must list at least one host:port`)
  return nodes
}

type Env = Record<string, string | undefined>

function flag(value: string, variable: string): boolean {
  if (['1', 'true', 'yes'].includes(value.toLowerCase())) return true
  if (['0', 'false', 'no'].includes(value.toLowerCase())) return false
  throw new TypeError(`${variable} must be true or false, got "${value.slice(0, 20)}"`)
}

function readPem(env: Env, variable: string): Buffer | undefined {
  const path = env[variable]
  if (path === undefined || path === '') return undefined
  try {
    return readFileSync(path)
  } catch (err) {
    throw new TypeError(`${variable} names a file that cannot be read: ${path}`, { cause: err })
  }
}

/**
 * Reads the server's Redis settings from the environment:
 *
 * - `REDIS_URL` standalone (`redis://` or `rediss://`), or
 * - `REDIS_SENTINELS` (`host:port,...`) with `REDIS_SENTINEL_MASTER`, and
 *   `REDIS_SENTINEL_USERNAME` / `REDIS_SENTINEL_PASSWORD` / `REDIS_SENTINEL_TLS` for the sentinels, or
 * - `REDIS_CLUSTER_NODES` (`host:port,...`, seed nodes);
 * - `REDIS_USERNAME` / `REDIS_PASSWORD` for the data nodes (ACL);
 * - `REDIS_TLS=1` and/or `REDIS_TLS_CA`, `REDIS_TLS_CERT`, `REDIS_TLS_KEY` (PEM file paths),
 *   `REDIS_TLS_SERVERNAME`.
 *
 * Returns null when none of `REDIS_URL`, `REDIS_SENTINELS`, `REDIS_CLUSTER_NODES` is set: there is
 * no default address, and the caller decides what that means (the server runs on the memory
 * store; {@link RedisSessionStore.connect} with no topology throws a TypeError).
 *
 * @example
 * ```ts
 * const redis = redisOptionsFromEnv(process.env)
 * const store = redis ? await RedisSessionStore.connect({ ...redis, keyPrefix: 'auth:' }) : new MemoryStore()
 * ```
 */
export function redisOptionsFromEnv(env: Env = process.env): RedisTopologyOptions | null {
  const url = env.REDIS_URL || undefined
  const sentinels = env.REDIS_SENTINELS || undefined
  const clusterNodes = env.REDIS_CLUSTER_NODES || undefined
  if ([url, sentinels, clusterNodes].filter(Boolean).length > 1) {
    throw new TypeError('set only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES')
  }
  if (!url && !sentinels && !clusterNodes) return null
  const options: RedisTopologyOptions = {}
  if (url) options.url = url
  if (sentinels) {
    const masterName = env.REDIS_SENTINEL_MASTER
    if (!masterName) throw new TypeError('REDIS_SENTINEL_MASTER must be set with REDIS_SENTINELS')
    options.sentinel = {
      nodes: parseNodeList(sentinels, 'REDIS_SENTINELS'),
      masterName,
      ...(env.REDIS_SENTINEL_USERNAME ? { username: env.REDIS_SENTINEL_USERNAME } : {}),
      ...(env.REDIS_SENTINEL_PASSWORD ? { password: env.REDIS_SENTINEL_PASSWORD } : {}),
      ...(env.REDIS_SENTINEL_TLS ? { tls: flag(env.REDIS_SENTINEL_TLS, 'REDIS_SENTINEL_TLS') } : {}),
    }
  }
  if (clusterNodes) options.cluster = { nodes: parseNodeList(clusterNodes, 'REDIS_CLUSTER_NODES') }
  if (env.REDIS_USERNAME) options.username = env.REDIS_USERNAME
  if (env.REDIS_PASSWORD) options.password = env.REDIS_PASSWORD
  const ca = readPem(env, 'REDIS_TLS_CA')
  const cert = readPem(env, 'REDIS_TLS_CERT')
  const key = readPem(env, 'REDIS_TLS_KEY')
  if ((cert === undefined) !== (key === undefined)) throw new TypeError('REDIS_TLS_CERT and REDIS_TLS_KEY must be set together')
  const tlsOn = (env.REDIS_TLS ? flag(env.REDIS_TLS, 'REDIS_TLS') : false) || ca !== undefined || cert !== undefined
  if (tlsOn) {
    options.tls = {
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(env.REDIS_TLS_SERVERNAME ? { servername: env.REDIS_TLS_SERVERNAME } : {}),
    }
  }
  return options
}
