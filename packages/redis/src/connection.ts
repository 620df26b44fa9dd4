import { RESP_TYPES, createClient, type RedisClientOptions, type RedisClientType } from 'redis'
import { Deadlines } from './deadlines.js'
import { dataNodeClientOptions, type RedisTopologyOptions } from './redis-config.js'
import { guardedSocket, guardTlsSockets } from './socket-errors.js'

/** What may be sent as a Redis argument. */
export type RedisArg = string | Buffer

/** How one command is sent. */
export interface SendOptions {
  /** A key of the command: routes it on Cluster. */
  key?: string
  /** Reply bulk strings as Buffers (for binary values). */
  buffers?: boolean
  /** Milliseconds before the command fails; defaults to the connection's command timeout. */
  timeoutMs?: number
  /** The setting `timeoutMs` comes from, named in the deadline's message (default `commandTimeoutMs`). */
  timeoutName?: string
  /**
   * Epoch ms when the caller began waiting for this command, if earlier than
   * the call (a strict check that waited for its batch): the time limit counts from then.
   */
  startedAtMs?: number
}

/**
 * The small surface the store needs from a Redis client. Keeping the client
 * behind it is what lets node-redis and another client (or a Cluster client)
 * be swapped without touching the store.
 */
export interface RedisConnection {
  readonly isCluster: boolean
  send(args: RedisArg[], options?: SendOptions): Promise<unknown>
  /**
   * A separate connection for blocking reads (XREAD BLOCK would stall the shared one),
   * open within `connectTimeoutMs` (default: the connection's own) or rejected.
   */
  duplicate(options?: { connectTimeoutMs?: number }): Promise<RedisConnection>
  close(): Promise<void>
}

/** Connection settings shared by every topology (the topology itself: see {@link RedisTopologyOptions}). */
export interface RedisConnectionOptions extends RedisTopologyOptions {
  /** `redis://` or `rediss://` URL, with optional user and password. */
  url?: string
  /** Extra node-redis client options (TLS files, socket settings, ...). */
  client?: RedisClientOptions
  /** Per-command timeout in ms; a store that does not answer in time is unavailable. Default 1000. */
  commandTimeoutMs?: number
  /**
   * Most time opening the connection may take, in ms, retries included. Default 10000.
   * Without it a server that refuses the handshake (wrong TLS CA, wrong password) would be retried forever.
   */
  connectTimeoutMs?: number
}

/**
 * Client options every data-node connection shares (standalone, Sentinel-found
 * master, Cluster nodes): credentials and TLS, the caller's extra options, then
 * fail-fast behaviour. No offline queue, so requests fail at once during an
 * outage instead of queueing behind it (fail closed), and a short, capped
 * reconnect back-off, so recovery follows within half a second of Redis returning.
 */
export function failClosedClientOptions(options: RedisConnectionOptions, commandTimeoutMs: number): RedisClientOptions {
  const node = dataNodeClientOptions(options)
  guardTlsSockets()
  return {
    ...node,
    ...options.client,
    disableOfflineQueue: true,
    // A refused TLS client must fail cleanly, never crash the process: see guardTlsSockets.
    socket: guardedSocket({
      connectTimeout: commandTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 500),
      ...(node.socket ?? {}),
      ...(options.client?.socket ?? {}),
    }),
  } as RedisClientOptions
}

/** Default of {@link RedisConnectionOptions.connectTimeoutMs}. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000

/**
 * Connects a node-redis client (or cluster), giving up after `timeoutMs`: node-redis
 * retries a failed first connection with its reconnect strategy, without end.
 * The error names the last failure (refused, TLS, auth) as its cause.
 */
export async function connectWithin(client: { connect(): Promise<unknown>; destroy(): unknown; on(event: 'error', listener: (err: Error) => void): unknown }, timeoutMs: number): Promise<void> {
  let lastError: Error | undefined
  client.on('error', (err) => {
    lastError = err
  })
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`could not connect to Redis within ${timeoutMs} ms${lastError ? `: ${lastError.message}` : ''}`, { cause: lastError })), timeoutMs)
  })
  try {
    await Promise.race([client.connect(), deadline])
  } catch (err) {
    try {
      client.destroy()
    } catch {
      // already closed: nothing left to release
    }
    throw err
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Closes gracefully (pending replies first) but waits at most `timeoutMs`: a
 * Redis that stopped answering would otherwise hold `close()`, and a shutdown,
 * forever. Past the limit the socket is dropped.
 */
async function closeWithin(client: { close(): Promise<unknown>; destroy(): unknown; isOpen: boolean }, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs)
  })
  try {
    // The graceful close keeps running after a timeout; its rejection then has nobody to tell.
    const closing = client.close().catch(() => undefined)
    if ((await Promise.race([closing, late])) === 'late' && client.isOpen) client.destroy()
  } finally {
    clearTimeout(timer)
  }
}

type Client = RedisClientType<Record<string, never>, Record<string, never>, Record<string, never>, 2>

const BUFFER_MAPPING = { [RESP_TYPES.BLOB_STRING]: Buffer } as const

/**
 * One {@link Deadlines} per time limit in use on a connection (the command
 * timeout, and the longer limits of blocking reads and WAIT). A limit of 0 means none.
 */
export class DeadlinesByLimit {
  readonly #byLimit = new Map<string, Deadlines>()

  bound<T>(reply: Promise<T>, timeoutMs: number | undefined, startedAtMs?: number, timeoutName = 'commandTimeoutMs'): Promise<T> {
    if (timeoutMs === undefined || !(timeoutMs > 0)) return reply
    const limit = `${timeoutMs} ${timeoutName}`
    let deadlines = this.#byLimit.get(limit)
    if (!deadlines) {
      deadlines = new Deadlines(timeoutMs, timeoutName)
      this.#byLimit.set(limit, deadlines)
    }
    return deadlines.bound(reply, startedAtMs)
  }

  clear(): void {
    for (const deadlines of this.#byLimit.values()) deadlines.clear()
  }
}

/** A node-redis client (standalone or Sentinel-managed) as a {@link RedisConnection}. */
export class NodeRedisConnection implements RedisConnection {
  readonly isCluster = false
  readonly #client: Client
  readonly #owned: boolean
  readonly #timeoutMs: number
  readonly #options: RedisConnectionOptions
  readonly #deadlines = new DeadlinesByLimit()
  #closing: Promise<void> | null = null

  constructor(client: Client, options: { owned: boolean; commandTimeoutMs: number; connectionOptions: RedisConnectionOptions }) {
    this.#client = client
    this.#owned = options.owned
    this.#timeoutMs = options.commandTimeoutMs
    this.#options = options.connectionOptions
  }

  /** Opens a client from options and waits until it is ready. */
  static async open(options: RedisConnectionOptions = {}): Promise<NodeRedisConnection> {
    const commandTimeoutMs = options.commandTimeoutMs ?? 1000
    const client = createClient({
      ...(options.url ? { url: options.url } : {}),
      ...failClosedClientOptions(options, commandTimeoutMs),
    }) as unknown as Client
    // node-redis emits 'error' for every failed reconnect; without a listener that would crash the process.
    client.on('error', () => {})
    await connectWithin(client, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)
    return new NodeRedisConnection(client, { owned: true, commandTimeoutMs, connectionOptions: options })
  }

  /** Wraps a client the caller opened (and will close). */
  static wrap(client: unknown, options: { commandTimeoutMs?: number } = {}): NodeRedisConnection {
    return new NodeRedisConnection(client as Client, { owned: false, commandTimeoutMs: options.commandTimeoutMs ?? 1000, connectionOptions: {} })
  }

  send(args: RedisArg[], options: SendOptions = {}): Promise<unknown> {
    // No node-redis `timeout`: it costs an AbortSignal per command and does not cover the reply; the deadlines do both.
    const reply = this.#client.sendCommand(args, options.buffers ? { typeMapping: BUFFER_MAPPING } : undefined)
    return this.#deadlines.bound(reply, options.timeoutMs ?? this.#timeoutMs, options.startedAtMs, options.timeoutName)
  }

  async duplicate(options: { connectTimeoutMs?: number } = {}): Promise<RedisConnection> {
    const copy = this.#client.duplicate() as unknown as Client
    copy.on('error', () => {})
    // Bounded like the first connection: node-redis would otherwise retry until Redis returns.
    await connectWithin(copy, options.connectTimeoutMs ?? this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)
    return new NodeRedisConnection(copy, { owned: true, commandTimeoutMs: this.#timeoutMs, connectionOptions: this.#options })
  }

  close(): Promise<void> {
    if (!this.#owned) return Promise.resolve()
    this.#closing ??= (async () => {
      this.#deadlines.clear()
      try {
        if (this.#client.isReady) await closeWithin(this.#client, this.#timeoutMs)
        // A client that gave up reconnecting (reconnectStrategy false) is closed already; destroying it again throws.
        else if (this.#client.isOpen) this.#client.destroy()
      } catch {
        if (this.#client.isOpen) this.#client.destroy()
      }
    })()
    return this.#closing
  }
}
