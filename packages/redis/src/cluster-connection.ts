import { ErrorReply, RESP_TYPES, createCluster, type RedisClusterOptions as NodeRedisClusterOptions, type RedisClusterType } from 'redis'
import { DEFAULT_CONNECT_TIMEOUT_MS, connectWithin, failClosedClientOptions, DeadlinesByLimit, type RedisArg, type RedisConnection, type RedisConnectionOptions, type SendOptions } from './connection.js'

type Cluster = RedisClusterType<Record<string, never>, Record<string, never>, Record<string, never>, 2>

const BUFFER_MAPPING = { [RESP_TYPES.BLOB_STRING]: Buffer } as const

/** How often a command answered `TRYAGAIN` is sent again, and the pause before each try. */
const TRYAGAIN_ATTEMPTS = 20
const TRYAGAIN_PAUSE_MS = 25
/** Least time between two topology refreshes triggered by failing nodes. */
const REDISCOVER_INTERVAL_MS = 250

function isTryAgain(err: unknown): boolean {
  // TRYAGAIN: a multi-key command whose keys are split mid-migration; CLUSTERDOWN: a failover in progress.
  return err instanceof Error && (err.message.startsWith('TRYAGAIN') || err.message.startsWith('CLUSTERDOWN'))
}

/**
 * A Redis Cluster as a {@link RedisConnection}, over node-redis `createCluster`.
 * Each command is routed by its `key` option; node-redis follows `MOVED` and
 * `ASK` redirections, and this class sends `TRYAGAIN` (a script whose keys are
 * split by a slot migration in progress) again after a short pause.
 *
 * @example
 * ```ts
 * const connection = await ClusterConnection.open({ cluster: { nodes: [{ host: '10.0.0.1', port: 6379 }] }, password })
 * const store = new RedisSessionStore(connection, { keyPrefix: 'auth:', ownsConnection: true })
 * ```
 */
export class ClusterConnection implements RedisConnection {
  readonly isCluster = true
  readonly #cluster: Cluster
  readonly #timeoutMs: number
  readonly #deadlines = new DeadlinesByLimit()
  #closing: Promise<void> | null = null
  #retried = 0
  #lastRediscoverMs = 0

  readonly #connectTimeoutMs: number

  private constructor(cluster: Cluster, timeoutMs: number, connectTimeoutMs: number) {
    this.#cluster = cluster
    this.#timeoutMs = timeoutMs
    this.#connectTimeoutMs = connectTimeoutMs
  }

  /** Discovers the cluster from its seed nodes and waits until it is ready. */
  static async open(options: RedisConnectionOptions): Promise<ClusterConnection> {
    if (!options.cluster) throw new TypeError('"cluster" option is required for a cluster connection')
    const commandTimeoutMs = options.commandTimeoutMs ?? 1000
    const clusterOptions = {
      rootNodes: options.cluster.nodes.map((n) => ({ socket: { host: n.host, port: n.port } })),
      defaults: failClosedClientOptions(options, commandTimeoutMs),
    } as unknown as NodeRedisClusterOptions
    return ClusterConnection.#connect(createCluster(clusterOptions) as unknown as Cluster, commandTimeoutMs, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)
  }

  static async #connect(cluster: Cluster, timeoutMs: number, connectTimeoutMs: number): Promise<ClusterConnection> {
    // Failed reconnects of one node are reported as 'error'; without a listener they would crash the process.
    cluster.on('error', () => {})
    await connectWithin(cluster, connectTimeoutMs)
    return new ClusterConnection(cluster, timeoutMs, connectTimeoutMs)
  }

  async send(args: RedisArg[], options: SendOptions = {}): Promise<unknown> {
    const commandOptions = options.buffers ? { typeMapping: BUFFER_MAPPING } : undefined
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#deadlines.bound(this.#cluster.sendCommand(options.key, false, args, commandOptions), options.timeoutMs ?? this.#timeoutMs, options.startedAtMs, options.timeoutName)
      } catch (err) {
        if (!(err instanceof ErrorReply)) this.#rediscover()
        if (!isTryAgain(err) || attempt >= TRYAGAIN_ATTEMPTS) throw err
        this.#retried++
        await new Promise((resolve) => setTimeout(resolve, TRYAGAIN_PAUSE_MS))
      }
    }
  }

  /**
   * Asks the cluster for its slot map again. node-redis does this on MOVED, but
   * a master that died answers nothing, so without this its slots would stay
   * routed to it even after the cluster promoted its replica.
   */
  #rediscover(): void {
    const now = Date.now()
    if (now - this.#lastRediscoverMs < REDISCOVER_INTERVAL_MS) return
    this.#lastRediscoverMs = now
    const live = this.#cluster.masters.find((m) => m.client?.isReady)?.client
    if (!live) return
    // Best effort in the background: the failed command has already failed closed; the next one uses the new map.
    this.#cluster._slots.rediscover(live).catch(() => undefined)
  }

  /** Commands sent again after `TRYAGAIN` or `CLUSTERDOWN` since the connection opened. */
  get retriedCommands(): number {
    return this.#retried
  }

  /** A second cluster client that connects only to the nodes it is sent to (blocking reads of the log). */
  async duplicate(options: { connectTimeoutMs?: number } = {}): Promise<RedisConnection> {
    const copy = this.#cluster.duplicate({ minimizeConnections: true }) as unknown as Cluster
    return ClusterConnection.#connect(copy, this.#timeoutMs, options.connectTimeoutMs ?? this.#connectTimeoutMs)
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#deadlines.clear()
      try {
        await this.#cluster.close()
      } catch {
        this.#cluster.destroy()
      }
    })()
    return this.#closing
  }
}
