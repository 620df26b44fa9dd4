import { webhookSecretKey } from '@tessera/core'
import { SECURITY_EVENT_TYPES, type SecurityEventType } from './security-events.js'

/** One configured receiver. */
export interface WebhookEndpoint {
  /** Stable name (it names the destination of queued deliveries, so keep it across restarts). */
  id: string
  url: string
  /** `whsec_...` (Standard Webhooks). */
  secret: string
  /** Event types sent to it; all when omitted. */
  events: ReadonlySet<SecurityEventType>
}

const LOOPBACK = /^(localhost|127(\.[0-9]{1,3}){3}|\[::1\])$/

/**
 * Checks endpoints from configuration (TESSERA_WEBHOOKS, JSON). URLs must be
 * https; plain http is allowed only to a loopback host (tests and development).
 * Throws a `TypeError` naming the bad entry.
 *
 * @example
 * ```ts
 * resolveWebhookEndpoints([{ id: 'siem', url: 'https://siem.example/hooks', secret: 'whsec_...' }])
 * ```
 */
export function resolveWebhookEndpoints(input: unknown): WebhookEndpoint[] {
  if (!Array.isArray(input)) throw new TypeError('webhooks must be a JSON array of { id, url, secret, events? }')
  const seen = new Set<string>()
  return input.map((raw: unknown, index): WebhookEndpoint => {
    const e = (raw ?? {}) as { id?: unknown; url?: unknown; secret?: unknown; events?: unknown }
    const where = `webhook ${index + 1}`
    if (typeof e.id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(e.id)) throw new TypeError(`${where}: "id" must be 1-64 of letters, digits, . _ -`)
    if (seen.has(e.id)) throw new TypeError(`${where}: id "${e.id}" is used twice`)
    seen.add(e.id)
    let url: URL
    try {
      url = new URL(String(e.url))
    } catch {
      throw new TypeError(`${where}: "url" is not a URL`)
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.test(url.hostname))) throw new TypeError(`${where}: "url" must be https (http only to a loopback address)`)
    if (url.username || url.password) throw new TypeError(`${where}: "url" must not carry credentials`)
    try {
      webhookSecretKey(String(e.secret))
    } catch (err) {
      throw new TypeError(`${where}: ${(err as Error).message}`)
    }
    let events: Set<SecurityEventType> = new Set(SECURITY_EVENT_TYPES)
    if (e.events !== undefined) {
      if (!Array.isArray(e.events) || e.events.some((t) => !SECURITY_EVENT_TYPES.includes(t as SecurityEventType))) {
        throw new TypeError(`${where}: "events" must be a list of ${SECURITY_EVENT_TYPES.join(', ')}`)
      }
      events = new Set(e.events as SecurityEventType[])
    }
    return { id: e.id, url: url.href, secret: String(e.secret), events }
  })
}
