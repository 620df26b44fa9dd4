// Row 8: how the protected route (strict mode) and refresh change as Redis
// fills from 1k to 100k to 1M live sessions (revoke-all's column comes from
// revoke-all.ts). One auth server and one private Redis, grown in place.
// Run: node --conditions=tessera-source --import tsx bench/growth.ts [--smoke]
import { createClient } from 'redis'
// Bench builds keys the way the store does, so it reaches the store's own key module (bench is not published).
import { KeyNames } from '../packages/redis/src/key-names.js'
import { startPrivateRedis } from '../test/support/redis.js'
import { startAuthServer, type AuthServer } from './lib/auth-server.js'
import { medianOfRounds, runLoad, type LoadFigures } from './lib/load.js'
import { pinProcess, pinSelfToLoadCore, LOAD_CORE } from './lib/processes.js'
import { bearerRequests, refreshRequests, topUpRefreshPool } from './lib/refresh-load.js'
import { isSmoke, printRows, type BenchRow } from './lib/report.js'
import { cloneUsers } from './lib/sessions.js'
import { fmt } from './lib/stats.js'

const smoke = isSmoke()
const SIZES = smoke ? [1_000, 2_000] : [1_000, 100_000, 1_000_000]
const ROUNDS = smoke ? 1 : 2
const DURATION_SEC = smoke ? 1 : 3
const CONNECTIONS = 100
const label = (n: number): string => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`)

const clientPinning = pinSelfToLoadCore()
const redis = await startPrivateRedis()
pinProcess(redis.pid, LOAD_CORE)
const client = createClient({ url: redis.url })
let server: AuthServer | null = null
const results = new Map<number, { verify: LoadFigures; refresh: LoadFigures }>()
try {
  await client.connect()
  server = await startAuthServer({ redisUrl: redis.url })
  await server.createSessions(1, 'template')
  const readers = (await server.createSessions(1000, 'reader')).map((t) => t.access_token)
  const pool = (await server.createSessions(CONNECTIONS * 3, 'refresher')).map((t) => t.refresh_token)
  const verifyLoad = { url: server.url, connections: CONNECTIONS, requests: bearerRequests('/bench/protected', readers) }
  // Warm-up of both routes (JIT, connections), not counted.
  await runLoad({ ...verifyLoad, duration: 1 })
  await runLoad({ url: server.url, connections: CONNECTIONS, duration: 1, requests: refreshRequests(pool) })
  await topUpRefreshPool(server, pool, CONNECTIONS * 3)
  let filled = 0
  for (const size of SIZES) {
    // The bench-only route named the template user `template0-0` (prefix + chunk start + '-' + index).
    await cloneUsers(client, new KeyNames('tessera:'), { templateUserId: 'template0-0', userPrefix: 'filler', from: filled, to: size })
    filled = size
    const verify: LoadFigures[] = []
    const refresh: LoadFigures[] = []
    for (let round = 0; round < ROUNDS; round++) {
      verify.push(await runLoad({ ...verifyLoad, duration: DURATION_SEC }))
      refresh.push(await runLoad({ url: server.url, connections: CONNECTIONS, duration: DURATION_SEC, requests: refreshRequests(pool) }))
      await topUpRefreshPool(server, pool, CONNECTIONS * 3)
    }
    results.set(size, { verify: medianOfRounds(verify), refresh: medianOfRounds(refresh) })
    const r = results.get(size)!
    console.log(`${label(size)} sessions (dbsize ${await client.dbSize()}): strict protected ${fmt(r.verify.rps)} req/s p99 ${r.verify.p99Ms} ms, ${r.verify.failures} failures; refresh ${fmt(r.refresh.rps)} req/s p99 ${r.refresh.p99Ms} ms, ${r.refresh.failures} failures`)
  }
} finally {
  if (client.isOpen) await client.close()
  await server?.stop()
  await redis.stop()
}

const first = results.get(SIZES[0]!)!
const rows: BenchRow[] = []
for (const size of SIZES.slice(1)) {
  const r = results.get(size)!
  rows.push({
    row: `8 growth: protected (strict) at ${label(size)} sessions`,
    figure: `${fmt(r.verify.rps)} req/s, p99 ${fmt(r.verify.p99Ms)} ms`,
    target: `flat vs ${label(SIZES[0]!)}`,
    ratio: `${fmt(r.verify.rps / first.verify.rps)}x of ${label(SIZES[0]!)} (${fmt(first.verify.rps)} req/s)`,
    met: null,
  })
  rows.push({
    row: `8 growth: refresh at ${label(size)} sessions`,
    figure: `${fmt(r.refresh.rps)} req/s, p99 ${fmt(r.refresh.p99Ms)} ms`,
    target: `flat vs ${label(SIZES[0]!)}`,
    ratio: `${fmt(r.refresh.rps / first.refresh.rps)}x of ${label(SIZES[0]!)} (${fmt(first.refresh.rps)} req/s)`,
    met: null,
  })
}
printRows(`Growth (server: taskset -c 0; autocannon ${CONNECTIONS} connections and redis-server: ${clientPinning}; ${ROUNDS} rounds of ${DURATION_SEC} s per size)`, rows)
