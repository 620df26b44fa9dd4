import nodemailer, { type Transporter } from 'nodemailer'
import type { MailMessage, Mailer } from './mailer.js'

/**
 * Sends mail with nodemailer over an `smtp://` or `smtps://` URL.
 *
 * @example
 * ```ts
 * const mailer = new SmtpMailer('smtp://user:pass@mail.example:587', 'Tessera <auth@example.com>')
 * ```
 */
export class SmtpMailer implements Mailer {
  readonly kind = 'smtp'
  readonly #transport: Transporter
  readonly #from: string

  constructor(smtpUrl: string, from: string) {
    const url = new URL(smtpUrl)
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new TypeError('"SMTP_URL" must be an smtp:// or smtps:// URL')
    // Every network wait has a timeout: a stuck SMTP server must not hold a request forever.
    this.#transport = nodemailer.createTransport({
      url: smtpUrl,
      connectionTimeout: 5000,
      greetingTimeout: 5000,
      socketTimeout: 10_000,
    } as Parameters<typeof nodemailer.createTransport>[0])
    this.#from = from
  }

  async send(message: MailMessage): Promise<void> {
    await this.#transport.sendMail({ from: this.#from, to: message.to, subject: message.subject, text: message.text })
  }

  async close(): Promise<void> {
    this.#transport.close()
  }
}
