// The load generator: autocannon in this (pinned) process, rounds of fixed
// duration, and the median of rounds.
import autocannon, { type AutocannonOptions, type AutocannonResult } from 'autocannon'
import { median } from './stats.js'

/** One round's figures. */
export interface LoadFigures {
  /** Completed 2xx responses per second. */
  rps: number
  p50Ms: number
  p99Ms: number
  /** Responses that were not 2xx, plus socket errors and timeouts. */
  failures: number
}

function figures(result: AutocannonResult): LoadFigures {
  return {
    rps: result['2xx'] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
  }
}

/**
 * Runs autocannon once for `durationSec` (autocannon's own bound) and returns
 * its figures.
 *
 * @example
 * ```ts
 * const { rps, p99Ms } = await runLoad({ url: `${base}/bench/protected`, connections: 100, duration: 5 })
 * ```
 */
export async function runLoad(options: AutocannonOptions): Promise<LoadFigures> {
  return figures(await autocannon({ timeout: 10, ...options }))
}

/** Medians over rounds of each figure (each figure's own median). */
export function medianOfRounds(rounds: readonly LoadFigures[]): LoadFigures {
  return {
    rps: median(rounds.map((r) => r.rps)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    failures: rounds.reduce((sum, r) => sum + r.failures, 0),
  }
}
