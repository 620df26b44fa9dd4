// Row 5: bytes of Redis memory per live session with device metadata (a
// typical 111-character user agent, ip and device name), at 100k sessions,
// with one and with five sessions per user. Sessions are created by the
// store's own createSession script. Run: node --conditions=tessera-source --import tsx bench/memory.ts [--smoke]
import { createClient } from 'redis'
import { RedisSessionStore } from '@tessera/redis'
import { startPrivateRedis } from '../test/support/redis.js'
import { pinProcess, pinSelfToLoadCore, SERVER_CORE } from './lib/processes.js'
import { isSmoke, printRows, type BenchRow } from './lib/report.js'
import { fillSessions, usedMemory } from './lib/sessions.js'
import { fmt } from './lib/stats.js'

const SESSIONS = isSmoke() ? 2_000 : 100_000
const TARGET_BYTES = 300

const clientPinning = pinSelfToLoadCore()
const redis = await startPrivateRedis()
const client = createClient({ url: redis.url })
// Thousands of scripts are in flight while filling: a starved core must slow the fill, not fail it.
const store = await RedisSessionStore.connect({ url: redis.url, keyPrefix: 'tessera:', commandTimeoutMs: 60_000 })
const rows: BenchRow[] = []
let redisPinning = ''
try {
  redisPinning = pinProcess(redis.pid, SERVER_CORE)
  await client.connect()
  for (const perUser of [1, 5]) {
    await client.flushAll()
    const before = await usedMemory(client)
    await fillSessions(store, { count: SESSIONS, perUser, userPrefix: 'user' })
    const bytes = ((await usedMemory(client)) - before) / SESSIONS
    console.log(`${SESSIONS} sessions, ${perUser} per user: ${fmt(bytes)} bytes each (used_memory delta; encoding ${await client.objectEncoding('tessera:{user0}:s')})`)
    rows.push({
      row: `5 memory per session, ${perUser} per user, ${SESSIONS / 1000}k sessions`,
      figure: `${fmt(bytes)} B`,
      target: `<= ${TARGET_BYTES} B`,
      ratio: `${fmt(bytes / TARGET_BYTES)} of target`,
      met: bytes <= TARGET_BYTES,
    })
  }
} finally {
  await store.close()
  if (client.isOpen) await client.close()
  await redis.stop()
}
printRows(`Memory per session (redis-server: ${redisPinning}; client: ${clientPinning})`, rows)
