import { randomInt } from 'node:crypto'
import { createClient } from 'redis'
import type { Clock } from '@tessera/core'
import { startPrivateRedis, waitFor } from '../support/redis.js'
import { bearer, createDeployment, registerAndLogin, startInstance } from './harness.js'

/**
 * Mixed traffic for a while (logins, refreshes, protected requests,
 * revocations) against one server on a private Redis, then silence until
 * every TTL has run out. Reports RSS over time, every unexpected answer and
 * what Redis still holds afterwards.
 *
 * Session lifetimes have a floor of 60 s; to see them end within a test the
 * engine's clock runs `CLOCK_LAG_MS` behind real time, so a session of 60 s
 * (clock) ends 10 s after it began (real time). Everything Tessera writes is
 * timed by that clock, as in production.
 */
export const CLOCK_LAG_MS = 50_000

export interface SoakFigures {
  durationMs: number
  requests: number
  byOutcome: Record<string, number>
  /** Answers that are errors: 5xx, a crashed request, or a 401 code no client should meet. */
  errors: Record<string, number>
  rssBaselineMb: number
  rssEndMb: number
  rssGrowth: number
  /** Bytes held by keys (sum of MEMORY USAGE) after the users registered, at the peak, and after clean-up. */
  redisBaselineBytes: number
  redisPeakBytes: number
  redisAfterBytes: number
  keysAtPeak: number
  keysAfter: string[]
  cleanupMs: number
}

/** 401 codes a well-behaved client meets in this traffic: its session ended by time, logout or eviction. */
const EXPECTED_REFUSALS = new Set(['ERR_SESSION_REVOKED', 'ERR_ACCESS_TOKEN_EXPIRED', 'ERR_REFRESH_TOKEN_EXPIRED', 'ERR_ACCESS_TOKEN_REVOKED', 'ERR_SESSION_NOT_FOUND'])

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

/**
 * Runs the soak for `durationMs` and returns its figures (assertions are the caller's).
 *
 * @example
 * ```ts
 * const figures = await runSoak({ durationMs: 600_000 })
 * assert.ok(figures.rssGrowth <= 0.1)
 * ```
 */
export async function runSoak(options: { durationMs: number; users?: number }): Promise<SoakFigures> {
  const redis = await startPrivateRedis(['--maxmemory-policy', 'noeviction'])
  const cleanups: (() => Promise<void>)[] = [() => redis.stop('SIGKILL')]
  try {
    const probe = createClient({ url: redis.url })
    probe.on('error', () => {})
    await probe.connect()
    cleanups.push(async () => void probe.destroy())
    // What the keys hold (MEMORY USAGE of each): client buffers, scripts and allocator slack are not Tessera's to clean up.
    const usedMemory = async () => {
      let bytes = 0
      for (const key of await probe.keys('*')) bytes += (await probe.memoryUsage(key)) ?? 0
      return bytes
    }
    const deployment = await createDeployment({ redisUrl: redis.url })
    cleanups.push(() => deployment.drop())
    const clock: Clock = { nowMs: () => Date.now() - CLOCK_LAG_MS }
    const server = await startInstance(deployment, {
      auth: { clock, accessTokenTtlSeconds: 5, refreshIdleTtlSeconds: 60, refreshAbsoluteTtlSeconds: 60, refreshGraceSeconds: 2, maxSessions: 5 },
      rateLimits: { loginPerIp: { max: 1_000_000, windowSeconds: 2 }, loginPerAccount: { max: 1_000_000, windowSeconds: 2 }, refreshPerIp: { max: 1_000_000, windowSeconds: 2 }, sensitivePerIp: { max: 1_000_000, windowSeconds: 2 } },
    })
    cleanups.push(() => server.close())
    const app = server.app
    const accounts: Awaited<ReturnType<typeof registerAndLogin>>[] = []
    for (let i = 0; i < (options.users ?? 20); i++) accounts.push(await registerAndLogin(app))
    // Registration logged everyone in once; let those sessions be part of the traffic.
    const pool: { access: string; refresh: string }[] = accounts.map((a) => ({ access: a.tokens.access_token, refresh: a.tokens.refresh_token }))
    const redisBaselineBytes = await usedMemory()

    const byOutcome: Record<string, number> = {}
    const errors: Record<string, number> = {}
    let requests = 0
    const record = (kind: string, res: { statusCode: number; body: string }) => {
      requests++
      let code = ''
      if (res.statusCode >= 400) {
        try {
          code = (JSON.parse(res.body) as { code?: string }).code ?? ''
        } catch {
          code = 'unparsable'
        }
      }
      const outcome = `${kind} ${res.statusCode}${code ? ` ${code}` : ''}`
      byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1
      if (res.statusCode >= 500 || (res.statusCode === 401 && !EXPECTED_REFUSALS.has(code)) || (res.statusCode >= 400 && res.statusCode !== 401)) errors[outcome] = (errors[outcome] ?? 0) + 1
    }
    const pick = () => (pool.length ? pool[randomInt(pool.length)] : undefined)
    const started = Date.now()
    const endAt = started + options.durationMs
    const rss: { atMs: number; mb: number }[] = []
    let peak = { bytes: redisBaselineBytes, keys: 0 }
    const sampler = setInterval(() => {
      rss.push({ atMs: Date.now() - started, mb: process.memoryUsage().rss / 2 ** 20 })
      void Promise.all([usedMemory(), probe.dbSize()])
        .then(([bytes, keys]) => {
          if (bytes > peak.bytes) peak = { bytes, keys }
        })
        // A missed sample only thins the figures.
        .catch(() => {})
    }, 1000)
    const loop = async (work: () => Promise<void>, pauseMs: number) => {
      while (Date.now() < endAt) {
        await work()
        await new Promise((resolve) => setTimeout(resolve, pauseMs))
      }
    }
    await Promise.all([
      loop(async () => {
        const account = accounts[randomInt(accounts.length)]!
        const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { email: account.email, password: account.password } })
        record('login', res)
        if (res.statusCode === 200) {
          const body = res.json<{ access_token: string; refresh_token: string }>()
          pool.push({ access: body.access_token, refresh: body.refresh_token })
          if (pool.length > 200) pool.splice(0, pool.length - 200)
        }
      }, 20),
      loop(async () => {
        const entry = pick()
        if (!entry) return
        const res = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: entry.refresh } })
        record('refresh', res)
        if (res.statusCode === 200) {
          const body = res.json<{ access_token: string; refresh_token: string }>()
          entry.access = body.access_token
          entry.refresh = body.refresh_token
        } else pool.splice(pool.indexOf(entry), 1)
      }, 5),
      loop(async () => {
        const entry = pick()
        if (!entry) return
        record('protected', await app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(entry.access) }))
      }, 1),
      loop(async () => {
        const entry = pick()
        if (!entry) return
        pool.splice(pool.indexOf(entry), 1)
        const all = randomInt(10) === 0
        record(all ? 'logout-all' : 'logout', await app.inject({ method: 'POST', url: all ? '/auth/logout-all' : '/auth/logout', headers: bearer(entry.access) }))
      }, 50),
    ])
    clearInterval(sampler)
    const durationMs = Date.now() - started
    // Baseline after warm-up (the second tenth of the run), end as the last tenth: medians, so one GC does not decide.
    const baseline = median(rss.filter((r) => r.atMs >= durationMs * 0.1 && r.atMs < durationMs * 0.2).map((r) => r.mb))
    const end = median(rss.filter((r) => r.atMs >= durationMs * 0.9).map((r) => r.mb))

    // Silence: every session ends 10 s after its last refresh; cut-offs and denials after an access-token lifetime.
    const quietAt = Date.now()
    let keysAfter: string[] = []
    await waitFor(
      async () => {
        keysAfter = await probe.keys('*')
        return keysAfter.every((k) => k.endsWith('revocations'))
      },
      60_000,
      250,
    ).catch(() => {})
    const cleanupMs = Date.now() - quietAt
    return {
      durationMs,
      requests,
      byOutcome,
      errors,
      rssBaselineMb: Math.round(baseline * 10) / 10,
      rssEndMb: Math.round(end * 10) / 10,
      rssGrowth: baseline ? (end - baseline) / baseline : 0,
      redisBaselineBytes,
      redisPeakBytes: peak.bytes,
      redisAfterBytes: await usedMemory(),
      keysAtPeak: peak.keys,
      keysAfter: await Promise.all(keysAfter.map(async (k) => `${k} (${await probe.type(k)}${(await probe.type(k)) === 'stream' ? `, ${await probe.xLen(k)} entries` : ''})`)),
      cleanupMs,
    }
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  }
}
