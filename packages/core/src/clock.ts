/** The only source of time in Tessera. Injected so tests (and Lua scripts) agree on `now`. */
export interface Clock {
  /** Milliseconds since the epoch. */
  nowMs(): number
}

/** The real clock. */
export const systemClock: Clock = { nowMs: () => Date.now() }

/**
 * A clock that only moves when told to; for tests and simulations.
 *
 * @example
 * ```ts
 * const clock = manualClock(Date.UTC(2026, 0, 1))
 * clock.advance(60_000)
 * ```
 */
export function manualClock(startMs: number): Clock & { advance(ms: number): void; set(ms: number): void } {
  let now = startMs
  return {
    nowMs: () => now,
    advance(ms: number) {
      now += ms
    },
    set(ms: number) {
      now = ms
    },
  }
}
