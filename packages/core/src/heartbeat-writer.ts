import type { EngineContext } from './engine-context.js'

/**
 * Writes the engine's issuer heartbeat to the revocation log, once on demand
 * and then on a timer. {@link Tessera} delegates `heartbeat` and
 * `startHeartbeat` here and stops it on `close`; what a heartbeat is for is
 * documented on {@link Tessera.heartbeat}.
 */
export class HeartbeatWriter {
  readonly #ctx: EngineContext
  #timer: NodeJS.Timeout | null = null
  #stopped = false

  constructor(ctx: EngineContext) {
    this.#ctx = ctx
  }

  /** See {@link Tessera.heartbeat}. */
  async write(): Promise<void> {
    const ctx = this.#ctx
    const o = ctx.options
    const issuer = o.issuer
    await ctx.callStore(() =>
      ctx.store.appendHeartbeat({
        heartbeat: {
          issuer,
          atMs: ctx.nowMs(),
          accessTokenTtlSeconds: o.accessTokenTtlSeconds,
          clockToleranceSeconds: o.clockToleranceSeconds,
          refreshGraceSeconds: o.refreshGraceSeconds,
        },
        retentionMs: o.revocationTtlMs,
      }),
    )
  }

  /** See {@link Tessera.startHeartbeat}. Does nothing once stopped, or when already started. */
  start(): void {
    const every = this.#ctx.options.heartbeatIntervalMs
    if (every === 0 || this.#timer || this.#stopped) return
    this.#timer = setInterval(() => {
      // A store that is down misses a beat; verifiers notice the silence, which is the point of the beat.
      this.write().catch(() => undefined)
    }, every)
    // Housekeeping must not keep the process alive.
    this.#timer.unref()
  }

  /** Stops the timer for good: a later {@link start} does nothing. Idempotent. */
  stop(): void {
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }
}
