import { ClientClosedError, ClientOfflineError, ErrorReply, createClient } from 'redis'
import { NodeRedisConnection, type RedisArg, type RedisConnection, type RedisConnectionOptions, type SendOptions } from './connection.js'
import { tlsSocketOptions, type RedisNodeAddress } from './redis-config.js'
import { guardedSocket, guardTlsSockets } from './socket-errors.js'

/** Least time between two look-ups of the master, so an outage does not turn into a storm on the sentinels. */
const MIN_RESOLVE_INTERVAL_MS = 100

/**
 * A master managed by Redis Sentinel as a {@link RedisConnection}.
 *
 * It asks the sentinels which node is the master, connects to it, and asks
 * again when the master stops answering or answers `READONLY` (it was demoted).
 * A command sent while no master is known fails at once, so the store fails
 * closed during a failover and recovers by itself when the sentinels have
 * promoted a replica. node-redis's own Sentinel client was not used because it
 * waits without bound for a master and logs to the console while it does.
 *
 * @example
 * ```ts
 * const connection = await SentinelConnection.open({
 *   sentinel: { nodes: [{ host: '10.0.0.1', port: 26379 }], masterName: 'tessera' },
 *   password: process.env.REDIS_PASSWORD,
 * })
 * ```
 */
export class SentinelConnection implements RedisConnection {
  readonly isCluster = false
  readonly #options: RedisConnectionOptions
  readonly #timeoutMs: number
  #master: { address: string; connection: NodeRedisConnection } | null = null
  #resolving: Promise<NodeRedisConnection> | null = null
  #lastResolveMs = 0
  #closed = false

  private constructor(options: RedisConnectionOptions) {
    this.#options = options
    this.#timeoutMs = options.commandTimeoutMs ?? 1000
  }

  /** Finds the master through the sentinels and connects to it. */
  static async open(options: RedisConnectionOptions): Promise<SentinelConnection> {
    if (!options.sentinel) throw new TypeError('"sentinel" option is required for a sentinel connection')
    const connection = new SentinelConnection(options)
    await connection.#connection()
    return connection
  }

  /** The master's address as last resolved (`host:port`), for diagnostics. */
  get masterAddress(): string | null {
    return this.#master?.address ?? null
  }

  async send(args: RedisArg[], options: SendOptions = {}): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      const connection = await this.#connection()
      try {
        return await connection.send(args, options)
      } catch (err) {
        // A reply error is the command's own failure, except READONLY: the node was demoted to replica.
        if (!(err instanceof ErrorReply) || err.message.startsWith('READONLY')) this.#forget(connection)
        // A connection that closed while idle refuses the command before sending it: safe to send once more on a fresh one.
        if (attempt === 1 && (err instanceof ClientClosedError || err instanceof ClientOfflineError)) continue
        throw err
      }
    }
  }

  async duplicate(options: { connectTimeoutMs?: number } = {}): Promise<RedisConnection> {
    return SentinelConnection.open({ ...this.#options, connectTimeoutMs: options.connectTimeoutMs ?? this.#options.connectTimeoutMs })
  }

  async close(): Promise<void> {
    this.#closed = true
    const master = this.#master
    this.#master = null
    await master?.connection.close()
  }

  #forget(connection: NodeRedisConnection): void {
    if (this.#master?.connection !== connection) return
    this.#master = null
    // Closing a client whose server is gone only drops its socket; nothing to wait for.
    connection.close().catch(() => undefined)
  }

  #connection(): Promise<NodeRedisConnection> {
    if (this.#closed) return Promise.reject(new Error('connection is closed'))
    if (this.#master) return Promise.resolve(this.#master.connection)
    this.#resolving ??= this.#resolve().finally(() => {
      this.#resolving = null
    })
    return this.#resolving
  }

  async #resolve(): Promise<NodeRedisConnection> {
    const wait = this.#lastResolveMs + MIN_RESOLVE_INTERVAL_MS - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    this.#lastResolveMs = Date.now()
    const master = await this.#askSentinels()
    const connection = await NodeRedisConnection.open({
      ...this.#options,
      sentinel: undefined,
      url: undefined,
      // No reconnecting to a node that went away: the next command asks the sentinels again instead.
      client: { ...this.#options.client, socket: { ...(this.#options.client?.socket ?? {}), host: master.host, port: master.port, reconnectStrategy: false } },
    })
    // A sentinel can name a node that has not finished its promotion yet; writes would fail with READONLY.
    const role = (await connection.send(['ROLE'])) as [string, ...unknown[]]
    if (role[0] !== 'master') {
      await connection.close()
      throw new Error(`sentinels name ${master.host}:${master.port} as master but it is a ${role[0]}`)
    }
    if (this.#closed) {
      await connection.close()
      throw new Error('connection is closed')
    }
    this.#master = { address: `${master.host}:${master.port}`, connection }
    return connection
  }

  async #askSentinels(): Promise<RedisNodeAddress> {
    const sentinel = this.#options.sentinel!
    let lastError: unknown = new Error('no sentinel answered')
    guardTlsSockets()
    for (const node of sentinel.nodes) {
      const client = createClient({
        ...(sentinel.username !== undefined ? { username: sentinel.username } : {}),
        ...(sentinel.password !== undefined ? { password: sentinel.password } : {}),
        socket: guardedSocket({ host: node.host, port: node.port, connectTimeout: this.#timeoutMs, reconnectStrategy: false as const, ...(sentinel.tls === false ? {} : tlsSocketOptions(this.#options.tls)) }),
      })
      client.on('error', () => {})
      try {
        await client.connect()
        const reply = await client.sendCommand<[string, string] | null>(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', sentinel.masterName], { timeout: this.#timeoutMs })
        if (reply) return { host: reply[0], port: Number(reply[1]) }
        lastError = new Error(`sentinel ${node.host}:${node.port} does not know master "${sentinel.masterName}"`)
      } catch (err) {
        lastError = err
      } finally {
        client.destroy()
      }
    }
    throw lastError
  }
}
