import { createHmac } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import type { Span } from '@opentelemetry/api'
import { AuthError, StoreUnavailable } from './errors.js'
import type { TesseraEvents } from './events.js'
import type { ResolvedAuthOptions } from './options.js'
import type { SessionStore } from './session-store.js'
import { ATTR } from './telemetry.js'

/**
 * What every part of one engine shares: its store, options, clock, events and
 * span attributes. {@link Tessera} makes one and hands the same one to each of
 * its collaborators (one-time tokens, bans, key rotation, heartbeat), so a
 * store failure, the time and a span's attributes read alike whichever part
 * ran the operation. Internal: not exported from the package.
 */
export class EngineContext {
  readonly store: SessionStore
  readonly options: Readonly<ResolvedAuthOptions>
  /** The engine itself, so callers listen in one place whichever part emitted. */
  readonly events: EventEmitter<TesseraEvents>
  /** Key of {@link userHash}: derived, so a span's hash reveals neither the user id nor the token key. */
  readonly #userHashKey: Buffer

  constructor(parts: { store: SessionStore; options: Readonly<ResolvedAuthOptions>; events: EventEmitter<TesseraEvents>; userHashKey: Buffer }) {
    this.store = parts.store
    this.options = parts.options
    this.events = parts.events
    this.#userHashKey = parts.userHashKey
  }

  /** The engine's time, epoch ms: always the configured clock, so tests control it. */
  nowMs(): number {
    return this.options.clock.nowMs()
  }

  /** See {@link Tessera.userHash}. */
  userHash(userId: string): string {
    return createHmac('sha256', this.#userHashKey).update(userId).digest('hex').slice(0, 16)
  }

  /** Sets the attributes every engine span carries (store kind, user hash) plus `extra`, only on a recording span. */
  describe(span: Span, userId: string | null, extra?: Record<string, string | number | boolean>): void {
    if (!span.isRecording()) return
    span.setAttribute(ATTR.storeKind, this.store.kind ?? 'custom')
    if (userId !== null) span.setAttribute(ATTR.userHash, this.userHash(userId))
    if (extra) span.setAttributes(extra)
  }

  /** Runs a store call, turning anything that is not one of our errors into {@link StoreUnavailable}. */
  async callStore<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch (err) {
      if (err instanceof AuthError) throw err
      throw new StoreUnavailable('session store is unavailable', { cause: err })
    }
  }
}
