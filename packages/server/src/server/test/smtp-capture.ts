// A real SMTP server on a free loopback port that keeps what it receives, for
// tests that assert the delivered message (smtp-server does the protocol).
import { SMTPServer } from 'smtp-server'
import { freePort } from '../../../../../test/support/redis.js'

export interface CapturedMessage {
  to: string[]
  from: string
  subject: string
  text: string
}

export interface SmtpCapture {
  url: string
  /** The next message received (or one already waiting). */
  next(timeoutMs?: number): Promise<CapturedMessage>
  close(): Promise<void>
}

function decodeQuotedPrintable(body: string): string {
  const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
  return Buffer.from(bytes, 'latin1').toString('utf8')
}

function parse(raw: string, to: string[], from: string): CapturedMessage {
  const split = raw.indexOf('\r\n\r\n')
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ')
  const body = raw.slice(split + 4)
  const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1]?.trim() ?? ''
  const encoding = header('Content-Transfer-Encoding').toLowerCase()
  const text = encoding === 'quoted-printable' ? decodeQuotedPrintable(body) : encoding === 'base64' ? Buffer.from(body, 'base64').toString('utf8') : body
  return { to, from, subject: header('Subject'), text }
}

export async function startSmtpCapture(): Promise<SmtpCapture> {
  const received: CapturedMessage[] = []
  const waiters: ((m: CapturedMessage) => void)[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address)
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : ''
        const message = parse(Buffer.concat(chunks).toString('utf8'), to, from)
        const waiter = waiters.shift()
        if (waiter) waiter(message)
        else received.push(message)
        callback()
      })
    },
  })
  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    url: `smtp://127.0.0.1:${port}`,
    next(timeoutMs = 5000) {
      const ready = received.shift()
      if (ready) return Promise.resolve(ready)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no mail received in time')), timeoutMs)
        waiters.push((m) => {
          clearTimeout(timer)
          resolve(m)
        })
      })
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
