import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * Signing and checking webhooks as the Standard Webhooks specification says
 * (https://www.standardwebhooks.com): headers `webhook-id`,
 * `webhook-timestamp` (epoch seconds) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, several separated
 * by spaces during a secret rotation); secrets are `whsec_<base64 key>`.
 */

const SECRET_PREFIX = 'whsec_'
/** Default replay window of {@link verifyWebhook}, as the specification suggests. */
export const WEBHOOK_TOLERANCE_SECONDS = 300

/** Why {@link verifyWebhook} refused a request. */
export type WebhookVerificationCode = 'ERR_WEBHOOK_HEADERS' | 'ERR_WEBHOOK_TIMESTAMP' | 'ERR_WEBHOOK_SIGNATURE'

/** A webhook request that is not authentic or not fresh; answer it 4xx and do nothing with it. */
export class WebhookVerificationError extends Error {
  constructor(
    readonly code: WebhookVerificationCode,
    message: string,
  ) {
    super(message)
    this.name = 'WebhookVerificationError'
  }
}

/** The key bytes of a `whsec_...` secret. Throws a `TypeError` for anything else. */
export function webhookSecretKey(secret: string): Buffer {
  if (typeof secret !== 'string' || !secret.startsWith(SECRET_PREFIX)) throw new TypeError('webhook secret must start with "whsec_"')
  const base64 = secret.slice(SECRET_PREFIX.length)
  const key = Buffer.from(base64, 'base64')
  if (key.length < 24 || key.length > 64 || key.toString('base64').replace(/=+$/, '') !== base64.replace(/=+$/, '')) {
    throw new TypeError('webhook secret must be "whsec_" and 24 to 64 bytes of base64')
  }
  return key
}

/** A new random secret (`whsec_` + 32 bytes of base64) for an endpoint. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64')
}

function signature(key: Buffer, id: string, timestampSeconds: number, body: string): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest()
}

/**
 * The three headers of one signed delivery.
 *
 * @example
 * ```ts
 * const headers = signWebhook({ secret, id: 'msg_1', timestampSeconds: Math.floor(Date.now() / 1000), body })
 * await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body })
 * ```
 */
export function signWebhook(input: { secret: string; id: string; timestampSeconds: number; body: string }): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const digest = signature(webhookSecretKey(input.secret), input.id, input.timestampSeconds, input.body)
  return { 'webhook-id': input.id, 'webhook-timestamp': String(input.timestampSeconds), 'webhook-signature': `v1,${digest.toString('base64')}` }
}

function header(headers: Headers | Record<string, string | string[] | undefined>, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined
  const value = (headers as Record<string, string | string[] | undefined>)[name]
  return Array.isArray(value) ? value[0] : value
}

/**
 * Checks a received webhook: the headers are there, the timestamp is inside
 * the replay window (both directions) and one `v1` signature matches one of
 * the secrets (compared in constant time). Returns the parsed JSON body.
 * Pass the body exactly as received (the raw text, not re-serialised JSON).
 * Deduplicate on `webhook-id`: delivery is at least once.
 *
 * @throws {WebhookVerificationError}
 * @example
 * ```ts
 * app.post('/hooks/tessera', { config: { rawBody: true } }, async (request, reply) => {
 *   const event = verifyWebhook({ secret: process.env.TESSERA_WEBHOOK_SECRET!, headers: request.headers, body: request.rawBody! })
 *   if (await seen(request.headers['webhook-id'])) return reply.code(204).send()
 *   ...
 * })
 * ```
 */
export function verifyWebhook<T = unknown>(input: {
  secret: string | readonly string[]
  headers: Headers | Record<string, string | string[] | undefined>
  body: string
  toleranceSeconds?: number
  nowMs?: number
}): T {
  const id = header(input.headers, 'webhook-id')
  const timestamp = header(input.headers, 'webhook-timestamp')
  const signatures = header(input.headers, 'webhook-signature')
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('ERR_WEBHOOK_HEADERS', 'webhook-id, webhook-timestamp and webhook-signature are required')
  if (!/^[0-9]{1,12}$/.test(timestamp)) throw new WebhookVerificationError('ERR_WEBHOOK_TIMESTAMP', 'webhook-timestamp is not epoch seconds')
  const tolerance = input.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS
  const nowSeconds = Math.floor((input.nowMs ?? Date.now()) / 1000)
  const seconds = Number(timestamp)
  if (Math.abs(nowSeconds - seconds) > tolerance) throw new WebhookVerificationError('ERR_WEBHOOK_TIMESTAMP', 'webhook-timestamp is outside the replay window')
  const secrets = typeof input.secret === 'string' ? [input.secret] : input.secret
  const expected = secrets.map((s) => signature(webhookSecretKey(s), id, seconds, input.body))
  for (const part of signatures.split(' ')) {
    const [version, value] = part.split(',', 2)
    if (version !== 'v1' || !value) continue
    const given = Buffer.from(value, 'base64')
    for (const digest of expected) {
      if (given.length === digest.length && timingSafeEqual(given, digest)) return JSON.parse(input.body) as T
    }
  }
  throw new WebhookVerificationError('ERR_WEBHOOK_SIGNATURE', 'no webhook-signature matches')
}
