// A loopback TCP proxy a test controls, to cut a client off from a server
// (Redis) and restore the link without touching the server itself.
import { connect, createServer, type Server, type Socket } from 'node:net'

/** A running proxy; `url` replaces the target's address in the client's settings. */
export interface TcpProxy {
  port: number
  /** `redis://127.0.0.1:<port>`: convenient for Redis targets. */
  url: string
  /** `targetUrl` (user, password, database number, query kept) with its host and port replaced by this proxy's. */
  through(targetUrl: string): string
  /** Drops every open connection and refuses new ones until {@link restore}. */
  cut(): void
  /** Keeps connections open but silently drops every byte both ways, like a hung server, until {@link restore}. */
  stall(): void
  restore(): void
  readonly isCut: boolean
  close(): Promise<void>
}

/**
 * Forwards 127.0.0.1:<free port> to `target`.
 *
 * @example
 * ```ts
 * const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 })
 * t.after(() => proxy.close())
 * proxy.cut()
 * ```
 */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let isCut = false
  let stalled = false
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    // Resets are expected when the test cuts the link.
    socket.on('error', () => socket.destroy())
  }
  const server: Server = createServer((client) => {
    track(client)
    if (isCut) {
      client.destroy()
      return
    }
    const upstream = connect(target.port, target.host)
    track(upstream)
    client.on('data', (chunk: Buffer) => {
      if (!stalled) upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (!stalled) client.write(chunk)
    })
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    through(targetUrl: string) {
      const url = new URL(targetUrl)
      url.hostname = '127.0.0.1'
      url.port = String(port)
      return url.toString()
    },
    cut() {
      isCut = true
      for (const socket of sockets) socket.destroy()
    },
    stall() {
      stalled = true
    },
    restore() {
      isCut = false
      stalled = false
    },
    get isCut() {
      return isCut
    },
    close() {
      isCut = true
      for (const socket of sockets) socket.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
