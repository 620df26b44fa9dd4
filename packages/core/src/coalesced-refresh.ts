import { setTimeout as delay } from 'node:timers/promises'

/**
 * Runs a refresh (re-read the key set, refetch a JWKS) for callers that each
 * need a run that *starts after they asked*: a token signed with a key
 * written a moment ago is only decided right by a read made after it
 * arrived. Concurrent callers share one run, and runs are spaced by
 * `cooldownMs`, so a flood of junk `kid`s costs one read per cooldown and a
 * valid token waits at most one cooldown, never gets refused for it.
 *
 * @example
 * ```ts
 * const refresh = new CoalescedRefresh(() => fetchKeys(), { cooldownMs: 1000, nowMs: Date.now })
 * await refresh.request() // a fetch that began after this line has finished
 * ```
 */
export class CoalescedRefresh {
  readonly #task: () => Promise<void>
  readonly #cooldownMs: number
  readonly #nowMs: () => number
  #running: Promise<void> | null = null
  #queued: Promise<void> | null = null
  #lastStartMs = -Infinity

  constructor(task: () => Promise<void>, options: { cooldownMs: number; nowMs: () => number }) {
    this.#task = task
    this.#cooldownMs = options.cooldownMs
    this.#nowMs = options.nowMs
  }

  /** When the last run started (epoch ms per `nowMs`); -Infinity before the first. */
  get lastStartMs(): number {
    return this.#lastStartMs
  }

  /** True while a run is in progress or waiting for its turn. */
  get busy(): boolean {
    return this.#running !== null || this.#queued !== null
  }

  /** Resolves (or rejects, with the run's error) once a run that started after this call has finished. */
  request(): Promise<void> {
    if (this.#queued) return this.#queued
    if (!this.#running && this.#nowMs() - this.#lastStartMs >= this.#cooldownMs) return this.#start()
    const queued = (async () => {
      // The run in progress began before this caller asked: wait it out, then the cooldown, then run again.
      await this.#running?.catch(() => undefined)
      const waitMs = this.#lastStartMs + this.#cooldownMs - this.#nowMs()
      if (waitMs > 0) await delay(Math.min(waitMs, this.#cooldownMs))
      this.#queued = null
      return this.#start()
    })()
    this.#queued = queued
    return queued
  }

  #start(): Promise<void> {
    this.#lastStartMs = this.#nowMs()
    const running = this.#task().finally(() => {
      if (this.#running === running) this.#running = null
    })
    this.#running = running
    return running
  }
}
