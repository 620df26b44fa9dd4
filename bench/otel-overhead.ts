// What OpenTelemetry costs on a protected route: the same Fastify route behind @tessera/verifier (strict and
// cached mode) with Tessera's tracing off (TESSERA_TRACING=off: no span calls at all, as before tracing was
// added), with the API and no SDK (every install), and with an SDK recording every span (dropped by a no-op
// exporter behind a batch processor). Servers on core 0, autocannon and a private Redis on core 1; the three
// variants of a mode take turns in rotated order each round; the figure is the median over rounds of each
// round's ratio to "off" (server CPU per request, which a shared machine moves less than req/s).
//   node --conditions=tessera-source --import tsx bench/otel-overhead.ts [--rounds 5] [--seconds 5] [--tokens 1000] [--smoke]
import { randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import { createTessera, SigningKeySet } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { deleteKeys, startPrivateRedis } from '../test/support/redis.js'
import { runLoad, type LoadFigures } from './lib/load.js'
import { LOAD_CORE, pinProcess, pinSelfToLoadCore, SERVER_CORE, startNodeChild, type BenchChild } from './lib/processes.js'
import { isSmoke, printRows, type BenchRow } from './lib/report.js'
import { fmt, median } from './lib/stats.js'

const smoke = isSmoke()
const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`)
  return at > 0 ? Number(process.argv[at + 1]) : fallback
}
const ROUNDS = arg('rounds', smoke ? 1 : 5)
const SECONDS = arg('seconds', smoke ? 1 : 5)
const TOKENS = arg('tokens', smoke ? 50 : 1000)
const CONNECTIONS = smoke ? 10 : 50
const MICRO_ITERATIONS = smoke ? 100_000 : 2_000_000
/** `--micro-only`: only the in-process figure (a minute, where the HTTP rounds take several). */
const MICRO_ONLY = process.argv.includes('--micro-only')
const MODES = ['strict', 'cached'] as const
const OTEL = ['off', 'api', 'sdk'] as const
type Otel = (typeof OTEL)[number]
const ISSUER = 'https://auth.bench'
const AUDIENCE = 'api'
const PREFIX = `bench:otel:${randomBytes(4).toString('hex')}:`

/**
 * The same question where it weighs most: one verification on the cheapest path, in process, no HTTP.
 * Each round runs one fresh process per variant (the setting is read at load), in alternating order.
 */
async function microRow(): Promise<BenchRow> {
  const micro = new Map<'off' | 'api', number[]>([['off', []], ['api', []]])
  for (let round = 0; round < ROUNDS; round++) {
    for (const otel of round % 2 === 0 ? (['off', 'api'] as const) : (['api', 'off'] as const)) {
      const child = await startNodeChild('bench/servers/otel-micro.ts', [String(MICRO_ITERATIONS)], { core: SERVER_CORE, env: { ...process.env, TESSERA_TRACING: otel === 'off' ? 'off' : '' } })
      micro.get(otel)!.push(Number(child.ready.nsPerVerify))
      await child.stop()
    }
  }
  const microOff = micro.get('off')!
  const microApi = micro.get('api')!
  const microRatio = median(microApi.map((ns, i) => ns / microOff[i]!))
  const addedNs = median(microApi.map((ns, i) => ns - microOff[i]!))
  console.log(`Cheapest verification in process (signature mode, cached token, ${MICRO_ITERATIONS} calls per round, ${ROUNDS} rounds): off ${fmt(median(microOff))} ns, API without SDK ${fmt(median(microApi))} ns (median ratio ${microRatio.toFixed(3)}, ${fmt(addedNs)} ns added per call)\n`)
  return {
    row: 'OTel cheapest verify in process: API, no SDK vs tracing off',
    figure: `${fmt(addedNs)} ns per call (x${microRatio.toFixed(3)})`,
    target: 'context only (an HTTP request costs tens of us)',
    ratio: microRatio.toFixed(3),
    met: null,
  }
}

const pinned = pinSelfToLoadCore()
if (MICRO_ONLY) {
  printRows('OpenTelemetry overhead', [await microRow()])
  process.exit(0)
}
const redis = await startPrivateRedis()
pinProcess(redis.pid, LOAD_CORE)
const keys = await SigningKeySet.generate({ alg: 'ES256' })
const store = await RedisSessionStore.connect({ url: redis.url, keyPrefix: PREFIX })
const servers: BenchChild[] = []
try {
  const auth = await createTessera({ store, keys, issuer: ISSUER, audience: AUDIENCE, tokenKey: randomBytes(32), maxSessions: 60 })
  const tokens: string[] = []
  for (let i = 0; i < TOKENS; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, TOKENS - i) }, (_, j) => auth.createSession({ userId: `user-${(i + j) % 50}` })))
    tokens.push(...batch.map((s) => s.accessToken))
  }
  const env = (otel: Otel): NodeJS.ProcessEnv => ({
    ...process.env,
    BENCH_OTEL: otel,
    TESSERA_TRACING: otel === 'off' ? 'off' : '',
    BENCH_KEYS: JSON.stringify(keys.toJSON()),
    BENCH_REDIS_URL: redis.url,
    BENCH_PREFIX: PREFIX,
    BENCH_ISSUER: ISSUER,
    BENCH_AUDIENCE: AUDIENCE,
  })
  const urls = new Map<string, { url: string; pid: number }>()
  for (const mode of MODES) {
    for (const otel of OTEL) {
      const child = await startNodeChild('bench/servers/otel-server.ts', [mode], { core: SERVER_CORE, env: env(otel) })
      servers.push(child)
      urls.set(`${mode}/${otel}`, { url: String(child.ready.url), pid: child.pid })
    }
  }
  let next = 0
  const load = (key: string, seconds: number, amount?: number): Promise<LoadFigures> => {
    const { url, pid } = urls.get(key)!
    return runLoad({
      url: `${url}/hello`,
      connections: CONNECTIONS,
      ...(amount ? { amount } : { duration: seconds }),
      serverPid: pid,
      requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, headers: { authorization: `Bearer ${tokens[next++ % tokens.length]}` } }) }],
    })
  }
  for (const key of urls.keys()) {
    const yes = await fetch(`${urls.get(key)!.url}/hello`, { headers: { authorization: `Bearer ${tokens[0]}` } })
    if (yes.status !== 200) throw new Error(`${key}: sanity check failed (${yes.status})`)
    // Warm-up: JIT, and every token once through the verification cache.
    await load(key, 0, tokens.length * 2 + 1000)
  }

  const runs = new Map<string, LoadFigures[]>([...urls.keys()].map((k) => [k, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of MODES) {
      for (let v = 0; v < OTEL.length; v++) {
        const otel = OTEL[(v + round) % OTEL.length]!
        const figures = await load(`${mode}/${otel}`, SECONDS)
        runs.get(`${mode}/${otel}`)!.push(figures)
        console.error(`round ${round + 1} ${mode}/${otel}: ${Math.round(figures.rps)} req/s, ${figures.cpuUsPerRequest.toFixed(1)} us CPU/req, ${figures.failures} failed`)
      }
    }
  }

  const rows: BenchRow[] = []
  console.log(`\nOpenTelemetry overhead on a protected route (@tessera/verifier + Fastify, ${TOKENS} live ES256 tokens, autocannon ${CONNECTIONS} connections, ${ROUNDS} rounds x ${SECONDS} s, servers ${pinned.startsWith('taskset') ? 'pinned to core 0' : 'not pinned'}; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')})\n`)
  console.log('| mode | tracing | req/s (median) | server CPU us/req (median) | CPU/req vs off (median of round ratios) | req/s vs off (median of round ratios) | failed |')
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |')
  for (const mode of MODES) {
    const off = runs.get(`${mode}/off`)!
    // The round-to-round spread of "off" against itself: what noise alone moves.
    const offCpu = off.map((r) => r.cpuUsPerRequest)
    const noise = offCpu.length > 1 ? (Math.max(...offCpu) - Math.min(...offCpu)) / median(offCpu) : 0
    for (const otel of OTEL) {
      const own = runs.get(`${mode}/${otel}`)!
      const cpuRatio = median(own.map((r, i) => r.cpuUsPerRequest / off[i]!.cpuUsPerRequest))
      const rpsRatio = median(own.map((r, i) => r.rps / off[i]!.rps))
      const failed = own.reduce((n, r) => n + r.failures, 0)
      console.log(`| ${mode} | ${otel} | ${Math.round(median(own.map((r) => r.rps)))} | ${fmt(median(own.map((r) => r.cpuUsPerRequest)))} | ${cpuRatio.toFixed(3)} | ${rpsRatio.toFixed(3)} | ${failed} |`)
      if (otel === 'off') continue
      const band = Math.max(0.03, noise)
      rows.push({
        row: `OTel ${mode}: ${otel === 'api' ? 'API, no SDK' : 'SDK recording every span'} vs tracing off`,
        figure: `x${cpuRatio.toFixed(3)} CPU/req, x${rpsRatio.toFixed(3)} req/s`,
        target: otel === 'api' ? `within noise (+-${(band * 100).toFixed(1)}%: the larger of 3% and off's own spread)` : 'context only',
        ratio: cpuRatio.toFixed(3),
        met: otel === 'api' ? Math.abs(cpuRatio - 1) <= band : null,
        note: `${failed} failed requests; off's round-to-round CPU spread ${(noise * 100).toFixed(1)}%`,
      })
    }
  }
  console.log('')

  rows.push(await microRow())
  printRows('OpenTelemetry overhead', rows)
} finally {
  for (const server of servers) await server.stop()
  await store.close()
  await deleteKeys(redis.url, PREFIX)
  await redis.stop()
}
