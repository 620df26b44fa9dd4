import { OutboxMailer } from './outbox-mailer.js'
import { SmtpMailer } from './smtp-mailer.js'
import type { Mailer } from './mailer.js'

export type { MailMessage, Mailer } from './mailer.js'
export { OutboxMailer } from './outbox-mailer.js'
export { SmtpMailer } from './smtp-mailer.js'

/**
 * SMTP when `smtpUrl` is set, otherwise the dev outbox in `outboxDir`.
 *
 * @example
 * ```ts
 * const mailer = createMailer({ smtpUrl: process.env.SMTP_URL, outboxDir: '.tessera/outbox', from: 'auth@localhost' })
 * ```
 */
export function createMailer(options: { smtpUrl?: string | undefined; outboxDir: string; from: string }): Mailer {
  return options.smtpUrl ? new SmtpMailer(options.smtpUrl, options.from) : new OutboxMailer(options.outboxDir)
}
