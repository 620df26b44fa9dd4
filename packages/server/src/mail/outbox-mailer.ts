import { randomBytes } from 'node:crypto'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { MailMessage, Mailer } from './mailer.js'

/**
 * The development mailer: writes each message as one JSON file
 * `{to, subject, text}` into a directory instead of sending it.
 *
 * @example
 * ```ts
 * const mailer = new OutboxMailer('./.tessera/outbox')
 * ```
 */
export class OutboxMailer implements Mailer {
  readonly kind = 'outbox'
  readonly dir: string

  constructor(dir: string) {
    this.dir = dir
  }

  async send(message: MailMessage): Promise<void> {
    // Owner-only: the messages hold live one-time tokens.
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.json`
    const tmp = join(this.dir, `.${name}.tmp`)
    await writeFile(tmp, JSON.stringify({ to: message.to, subject: message.subject, text: message.text }, null, 2), { mode: 0o600 })
    // Write then rename, so a reader never sees half a message.
    await rename(tmp, join(this.dir, name))
  }

  async close(): Promise<void> {}
}
