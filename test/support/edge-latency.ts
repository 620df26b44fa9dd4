// Propagation figures of the edge and fleet tests: each revocation's time from
// the revoke call's return to the first refusal seen, kept and summarised, so a
// follower that fell back to polling fails the run instead of hiding under the
// pass/fail bound.

/**
 * The pass/fail line: a revoked token accepted later than this after the
 * revoke call returned fails the test. Generous, for a busy shared 2-core
 * machine (bench/ measures the real figure, milliseconds).
 */
export const PROPAGATION_BOUND_MS = 1000

/**
 * A loose p99 of the observed times. The followers wake on the log entry
 * (XREAD BLOCK), so this holds with wide room on a busy machine, while a
 * follower that polled even twice a second would miss it.
 */
export const PROPAGATION_P99_BOUND_MS = 250

/** The nearest-rank percentile `p` (0-100) of `values`; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** One line for a test's diagnostics: count, p50, p90, p99 and max in ms. */
export function latencySummary(label: string, valuesMs: readonly number[]): string {
  const f = (ms: number) => ms.toFixed(1)
  return `${label}: n=${valuesMs.length} p50=${f(percentile(valuesMs, 50))} p90=${f(percentile(valuesMs, 90))} p99=${f(percentile(valuesMs, 99))} max=${f(Math.max(...valuesMs))} ms`
}
