// The load generator: autocannon in this (pinned) process, rounds of fixed
// duration, and the median of rounds.
import { readFileSync } from 'node:fs'
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
  /** CPU of the server process (all its threads) per 2xx response, in µs; NaN unless `serverPid` was given. */
  cpuUsPerRequest: number
  /** The kernel-mode part of `cpuUsPerRequest` (syscalls: sockets, epoll). */
  sysUsPerRequest: number
}

// Linux's USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s.
const TICKS_PER_SECOND = 100

/** User and system CPU of process `pid` (all threads) in µs, from /proc; NaN where /proc is missing. */
export function processCpuUs(pid: number): { user: number; sys: number } {
  try {
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
    return { user: (Number(fields[11]) * 1e6) / TICKS_PER_SECOND, sys: (Number(fields[12]) * 1e6) / TICKS_PER_SECOND }
  } catch {
    return { user: Number.NaN, sys: Number.NaN }
  }
}

function figures(result: AutocannonResult, cpuUs: { user: number; sys: number }): LoadFigures {
  return {
    cpuUsPerRequest: (cpuUs.user + cpuUs.sys) / Math.max(1, result['2xx']),
    sysUsPerRequest: cpuUs.sys / Math.max(1, result['2xx']),
    rps: result['2xx'] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
  }
}

/**
 * Runs autocannon once for `duration` seconds (autocannon's own bound) and
 * returns its figures; with `serverPid`, also the server's CPU per request.
 *
 * @example
 * ```ts
 * const { rps, p99Ms } = await runLoad({ url: `${base}/bench/protected`, connections: 100, duration: 5 })
 * ```
 */
export async function runLoad(options: AutocannonOptions & { serverPid?: number }): Promise<LoadFigures> {
  const { serverPid, ...rest } = options
  const none = { user: Number.NaN, sys: Number.NaN }
  const before = serverPid === undefined ? none : processCpuUs(serverPid)
  // A fixed-count window (`amount`) ends at autocannon's next sample tick, by default the next whole second:
  // 10,000 requests served in 1.2 s or in 1.9 s both counted 2 s. Ticks every 10 ms keep the duration true.
  const result = await autocannon({ timeout: 10, ...(rest.amount ? { sampleInt: 10 } : {}), ...rest })
  const after = serverPid === undefined ? none : processCpuUs(serverPid)
  return figures(result, { user: after.user - before.user, sys: after.sys - before.sys })
}

/** Medians over rounds of each figure (each figure's own median). */
export function medianOfRounds(rounds: readonly LoadFigures[]): LoadFigures {
  return {
    rps: median(rounds.map((r) => r.rps)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    failures: rounds.reduce((sum, r) => sum + r.failures, 0),
    cpuUsPerRequest: median(rounds.map((r) => r.cpuUsPerRequest)),
    sysUsPerRequest: median(rounds.map((r) => r.sysUsPerRequest)),
  }
}
