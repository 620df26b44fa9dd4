import { AuthError } from '@tessera/core'

/**
 * Load for the fault suites: one sequential loop per "face" (a route, a
 * verifier mode), each recording when every request started, ended and what
 * it answered, so a test can ask "what happened between the kill and the
 * restart" after the fact.
 */

/** One request: times are `performance.now()` ms. */
export interface Sample {
  face: string
  startMs: number
  endMs: number
  status: number
}

/** Runs one request of a face and returns its HTTP status (or the status an adapter would give). */
export type Probe = () => Promise<number>

/** Running probes; `stop` waits for the loops' last requests. */
export interface ProbeRun {
  readonly samples: Sample[]
  stop(): Promise<Sample[]>
}

/**
 * The status an HTTP adapter answers for a verifier call: 200, 401 for a
 * refused token, 503 when revocation state cannot be read, 500 for anything
 * else (which every suite treats as a failure).
 */
export async function verifierStatus(verify: () => Promise<unknown>): Promise<number> {
  try {
    await verify()
    return 200
  } catch (err) {
    if (err instanceof AuthError) return err.code === 'ERR_STORE_UNAVAILABLE' ? 503 : 401
    return 500
  }
}

/**
 * Starts one loop per face. A probe that throws records status 0 (a crash
 * of the probe itself, which suites treat as a failure).
 *
 * @example
 * ```ts
 * const run = startProbes({ me: async () => (await app.inject({ url: '/auth/me', headers })).statusCode }, 5)
 * await redis.stop('SIGKILL')
 * const samples = await run.stop()
 * ```
 */
export function startProbes(faces: Record<string, Probe>, pauseMs = 5): ProbeRun {
  const samples: Sample[] = []
  let running = true
  const loops = Object.entries(faces).map(async ([face, probe]) => {
    while (running) {
      const startMs = performance.now()
      let status: number
      try {
        status = await probe()
      } catch {
        status = 0
      }
      samples.push({ face, startMs, endMs: performance.now(), status })
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs))
    }
  })
  return {
    samples,
    async stop() {
      running = false
      await Promise.all(loops)
      return samples
    },
  }
}

/** Samples of one face, in start order. */
export function ofFace(samples: readonly Sample[], face: string): Sample[] {
  return samples.filter((s) => s.face === face).sort((a, b) => a.startMs - b.startMs)
}

/** A short per-face summary for failure messages and the report: counts by status and the slowest request. */
export function summarise(samples: readonly Sample[]): Record<string, { count: number; statuses: Record<string, number>; slowestMs: number }> {
  const out: Record<string, { count: number; statuses: Record<string, number>; slowestMs: number }> = {}
  for (const s of samples) {
    const entry = (out[s.face] ??= { count: 0, statuses: {}, slowestMs: 0 })
    entry.count++
    entry.statuses[s.status] = (entry.statuses[s.status] ?? 0) + 1
    entry.slowestMs = Math.max(entry.slowestMs, Math.round(s.endMs - s.startMs))
  }
  return out
}

/**
 * A successful sign-in checks a password, and hashing yields the CPU to requests (SCHED_IDLE, rescued at
 * nice 10): on a machine busy with other suites it took 1.1-2.2 s (load 10-30). So the time limits of the
 * fault suites, which are about Redis and PostgreSQL, apply to a login 200 only up to the hashing queue's
 * own limit (10 s of waiting, plus the hash: never a hang); every other answer, 503s of logins included,
 * keeps the suite's limit.
 */
export function answerLimitMs(sample: Sample, limitMs: number): number {
  return sample.face === 'login' && sample.status === 200 ? Math.max(limitMs, HASHING_MAX_WAIT_MS) : limitMs
}

// The pool's DEFAULT_MAX_WAIT_MS for a child, plus time for the hash itself.
const HASHING_MAX_WAIT_MS = 15_000

/** Whether `sample` took longer than its {@link answerLimitMs}. */
export function tooSlow(sample: Sample, limitMs: number): boolean {
  return sample.endMs - sample.startMs > answerLimitMs(sample, limitMs)
}

/**
 * When a face was seen working again: the end of its first good answer, or for a login its start. A login
 * checks its rate limits in Redis (and reads its user) before it hashes, so one that started and then
 * succeeded had working stores when it started; its end also waits for a hash that a busy machine slows.
 */
export function workingAgainAt(sample: Sample): number {
  return sample.face === 'login' ? sample.startMs : sample.endMs
}
