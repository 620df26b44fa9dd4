// A real HTTP webhook receiver for tests: verifies every request with the independent `standardwebhooks`
// package, then answers as its behaviour says (ok, fail with 500, or hang past the sender's timeout).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

export type Answer = 'ok' | 'fail' | 'hang'

export class WebhookReceiver {
  /** Attempts per webhook-id. */
  readonly attempts = new Map<string, number>()
  /** 2xx answers per webhook-id: more than one would be a duplicate delivered to a receiver that acknowledged. */
  readonly acknowledged = new Map<string, number>()
  readonly events = new Map<string, { type: string; data: Record<string, unknown> }>()
  badSignatures = 0
  port = 0
  #server: Server | null = null
  readonly #hanging = new Set<ServerResponse>()

  constructor(
    readonly secret: string,
    readonly answer: (id: string, attempt: number) => Answer = () => 'ok',
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`
  }

  async listen(port = this.port): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    this.#server = server
    this.port = (server.address() as AddressInfo).port
  }

  /** Takes a free port and stops listening: connections are refused until {@link listen} again. */
  async reservePortAndGoDown(): Promise<void> {
    await this.listen(0)
    await this.close()
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const headers = { 'webhook-id': String(req.headers['webhook-id']), 'webhook-timestamp': String(req.headers['webhook-timestamp']), 'webhook-signature': String(req.headers['webhook-signature']) }
    let event: { type: string; data: Record<string, unknown> }
    try {
      event = new Webhook(this.secret).verify(body, headers) as typeof event
    } catch {
      this.badSignatures += 1
      res.writeHead(400).end()
      return
    }
    const id = headers['webhook-id']
    const attempt = (this.attempts.get(id) ?? 0) + 1
    this.attempts.set(id, attempt)
    const answer = this.answer(id, attempt)
    if (answer === 'hang') {
      this.#hanging.add(res)
      return
    }
    if (answer === 'fail') {
      res.writeHead(500).end()
      return
    }
    this.events.set(id, event)
    this.acknowledged.set(id, (this.acknowledged.get(id) ?? 0) + 1)
    res.writeHead(204).end()
  }

  async close(): Promise<void> {
    const server = this.#server
    if (!server) return
    this.#server = null
    for (const res of this.#hanging) res.destroy()
    this.#hanging.clear()
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }
}
