// Row 4 (and row 8's revoke-all column): revoking all 10 sessions of one user
// while Redis holds 1k .. 1M other live sessions, Tessera's one-script
// revoke-all against the seed design's SCAN MATCH + DEL on the same number of
// sessions. Run: node --conditions=tessera-source --import tsx bench/revoke-all.ts [--smoke]
import { createClient } from 'redis'
import { createTessera } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { startPrivateRedis } from '../test/support/redis.js'
import { pinProcess, pinSelfToLoadCore, SERVER_CORE } from './lib/processes.js'
import { isSmoke, printRows, type BenchRow } from './lib/report.js'
import { KeyNames } from '../packages/redis/src/key-names.js'
import { cloneUsers, fillSeedKeysFast, fillSessions, seedKey, seedRevokeAll, TYPICAL_UA } from './lib/sessions.js'
import { elapsedMs, fmt, median } from './lib/stats.js'

const smoke = isSmoke()
const SIZES = smoke ? [1_000, 5_000] : [1_000, 10_000, 100_000, 1_000_000]
const TESSERA_ROUNDS = smoke ? 3 : 31
const SEED_ROUNDS = smoke ? 2 : 5
const SESSIONS_PER_VICTIM = 10
/** Total server-side microseconds Redis spent in `commands` so far (INFO commandstats). */
async function serverUsec(client: ReturnType<typeof createClient>, commands: readonly string[]): Promise<number> {
  const stats = await client.info('commandstats')
  let usec = 0
  for (const name of commands) usec += Number(new RegExp(`^cmdstat_${name}:calls=\\d+,usec=(\\d+)`, 'm').exec(stats)?.[1] ?? 0)
  return usec
}

const label = (n: number): string => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`)

const clientPinning = pinSelfToLoadCore()
let redisPinning = ''
const redis = await startPrivateRedis()
const client = createClient({ url: redis.url })
// Thousands of scripts are in flight while filling: a starved core must slow the fill, not fail it.
const store = await RedisSessionStore.connect({ url: redis.url, keyPrefix: 'tessera:', commandTimeoutMs: 60_000 })
// Round trip from Node (the figure), and Redis's own execution time (immune to scheduling noise on a shared machine).
const tessera = new Map<number, number>()
const seed = new Map<number, number>()
const tesseraServer = new Map<number, number>()
const seedServer = new Map<number, number>()
try {
  redisPinning = pinProcess(redis.pid, SERVER_CORE)
  await client.connect()
  const auth = await createTessera({ store, tokenKey: 'bench-revoke-all-token-key-32-bytes!!' })

  // Tessera: grow the filler population in place, measure at each size.
  await fillSessions(store, { count: 1, perUser: 1, userPrefix: 'template' })
  let filled = 0
  for (const size of SIZES) {
    await cloneUsers(client, new KeyNames(store.keyPrefix), { templateUserId: 'template0', userPrefix: 'filler', from: filled, to: size })
    filled = size
    const timings: number[] = []
    const serverMs: number[] = []
    // The first rounds warm the JIT and the connection; they are not counted.
    for (let round = -3; round < TESSERA_ROUNDS; round++) {
      const userId = `victim-${size}-${round}`
      await Promise.all(Array.from({ length: SESSIONS_PER_VICTIM }, () => auth.createSession({ userId, device: { userAgent: TYPICAL_UA } })))
      const usecBefore = await serverUsec(client, ['evalsha'])
      const started = process.hrtime.bigint()
      const revoked = await auth.revokeAllSessions(userId)
      if (round >= 0) timings.push(elapsedMs(started))
      if (round >= 0) serverMs.push(((await serverUsec(client, ['evalsha'])) - usecBefore) / 1000)
      if (revoked !== SESSIONS_PER_VICTIM) throw new Error(`revoke-all revoked ${revoked} sessions, expected ${SESSIONS_PER_VICTIM}`)
    }
    tessera.set(size, median(timings))
    tesseraServer.set(size, median(serverMs))
    console.log(`tessera revoke-all with ${label(size)} other sessions (dbsize ${await client.dbSize()}): median ${fmt(median(timings))} ms round trip, ${fmt(median(serverMs))} ms in Redis, over ${TESSERA_ROUNDS} rounds`)
  }

  // The seed design on the same number of sessions, alone in the same Redis.
  await client.flushAll()
  filled = 0
  for (const size of SIZES) {
    await fillSeedKeysFast(client, { userPrefix: 'filler', from: filled, to: size, perUser: 1 })
    filled = size
    const timings: number[] = []
    const serverMs: number[] = []
    for (let round = 0; round < SEED_ROUNDS; round++) {
      const userId = `victim-${size}-${round}`
      await Promise.all(Array.from({ length: SESSIONS_PER_VICTIM }, (_, i) => client.set(seedKey(userId, `jti${i}`), '1', { EX: 900 })))
      const usecBefore = await serverUsec(client, ['scan', 'del'])
      const started = process.hrtime.bigint()
      const revoked = await seedRevokeAll(client, userId)
      timings.push(elapsedMs(started))
      serverMs.push(((await serverUsec(client, ['scan', 'del'])) - usecBefore) / 1000)
      if (revoked !== SESSIONS_PER_VICTIM) throw new Error(`SCAN+DEL deleted ${revoked} keys, expected ${SESSIONS_PER_VICTIM}`)
    }
    seed.set(size, median(timings))
    seedServer.set(size, median(serverMs))
    console.log(`seed SCAN+DEL with ${label(size)} other sessions (dbsize ${await client.dbSize()}): median ${fmt(median(timings))} ms round trip, ${fmt(median(serverMs))} ms in Redis, over ${SEED_ROUNDS} rounds`)
  }
} finally {
  await store.close()
  if (client.isOpen) await client.close()
  await redis.stop()
}

const largest = SIZES[SIZES.length - 1]!
const reference = SIZES.includes(10_000) ? 10_000 : SIZES[0]!
const rows: BenchRow[] = []
for (const size of SIZES.filter((s) => s !== 1_000)) {
  const ms = tessera.get(size)!
  rows.push({
    row: `4 revoke-all 10 sessions, ${label(size)} others`,
    figure: `${fmt(ms)} ms round trip, ${fmt(tesseraServer.get(size)!)} ms in Redis (SCAN+DEL ${fmt(seed.get(size)!)} ms, ${fmt(seedServer.get(size)!)} ms in Redis)`,
    target: '<= 0.5 ms',
    ratio: `${fmt(seed.get(size)! / ms)}x faster than SCAN+DEL`,
    met: ms <= 0.5,
  })
}
const flat = tessera.get(largest)! / tessera.get(reference)!
rows.push({ row: `4 flatness ${label(largest)}/${label(reference)}`, figure: `${fmt(flat)}`, target: '<= 1.5', met: flat <= 1.5 })
const speedup = seed.get(largest)! / tessera.get(largest)!
rows.push({ row: `4 vs SCAN+DEL at ${label(largest)}`, figure: `${fmt(speedup)}x faster`, target: '>= 1000x', met: speedup >= 1000 })
for (const size of SIZES.filter((s) => s === 1_000 || s === 100_000 || s === 1_000_000)) {
  rows.push({ row: `8 growth: revoke-all at ${label(size)} sessions`, figure: `${fmt(tessera.get(size)!)} ms round trip, ${fmt(tesseraServer.get(size)!)} ms in Redis`, target: 'flat', met: null })
}
printRows(`Revoke-all scaling (redis-server: ${redisPinning}; client: ${clientPinning})`, rows)
