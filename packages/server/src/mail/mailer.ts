/** One plain-text message. */
export interface MailMessage {
  to: string
  subject: string
  text: string
}

/**
 * Sends the server's mail (password reset, email verification).
 *
 * @example
 * ```ts
 * const mailer = createMailer({ smtpUrl: process.env.SMTP_URL, outboxDir: './.tessera/outbox', from: 'auth@example.com' })
 * await mailer.send({ to: 'ada@example.com', subject: 'Hello', text: 'Hi Ada' })
 * ```
 */
export interface Mailer {
  /** "smtp" or "outbox", for the startup line. */
  readonly kind: 'smtp' | 'outbox'
  send(message: MailMessage): Promise<void>
  close(): Promise<void>
}
