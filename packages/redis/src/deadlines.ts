import { StoreUnavailable } from '@tessera/core'

interface Pending {
  startMs: number
  atMs: number
  reject: (err: unknown) => void
}

/**
 * Time limits for many short Redis calls at the price of one timer. node-redis
 * gives each command with a timeout its own `AbortSignal.timeout`, which costs
 * about 12 µs of CPU per command (measured: 19 µs per strict check with it,
 * 6.5 µs without), and its timeout only covers the wait to be written, not the
 * reply. Every connection bounds its calls here instead: a sweep every few ms
 * rejects what is overdue, so a hung Redis (alive, not answering) cannot hold a
 * request past its limit.
 *
 * @example
 * ```ts
 * const deadlines = new Deadlines(1000)
 * const status = await deadlines.bound(store.checkAccessToken(request))
 * ```
 */
export class Deadlines {
  readonly #timeoutMs: number
  readonly #pending = new Set<Pending>()
  #timer: NodeJS.Timeout | null = null

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
  }

  /** Settles like `promise`, or rejects with {@link StoreUnavailable} once the time limit has passed. */
  bound<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const startMs = Date.now()
      const entry: Pending = { startMs, atMs: startMs + this.#timeoutMs, reject }
      this.#pending.add(entry)
      this.#timer ??= this.#start()
      promise.then(
        (value) => {
          this.#pending.delete(entry)
          resolve(value)
        },
        (err: unknown) => {
          this.#pending.delete(entry)
          reject(err instanceof Error ? err : new Error(String(err)))
        },
      )
    })
  }

  #start(): NodeJS.Timeout {
    const timer = setInterval(() => {
      if (this.#pending.size === 0) {
        clearInterval(timer)
        this.#timer = null
        return
      }
      const now = Date.now()
      const expired = [...this.#pending].filter((entry) => entry.atMs <= now)
      if (expired.length === 0) return
      // Timers run before the event loop polls for I/O: after a stall (a busy or starved process) a reply may
      // already be waiting in the socket. Let one poll phase deliver it before calling the store unavailable.
      setImmediate(() => {
        for (const entry of expired) {
          if (!this.#pending.delete(entry)) continue
          // Say which limit passed and how long the call really waited: on a loaded machine the two differ.
          entry.reject(new StoreUnavailable(`session store did not answer within its ${this.#timeoutMs} ms command time limit (commandTimeoutMs; waited ${Date.now() - entry.startMs} ms)`))
        }
      })
    }, Math.max(5, Math.min(50, Math.floor(this.#timeoutMs / 4))))
    timer.unref()
    return timer
  }

  /** Rejects everything pending (on close). */
  clear(): void {
    for (const entry of this.#pending) entry.reject(new StoreUnavailable('session store connection closed while a command waited for its reply'))
    this.#pending.clear()
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }
}
