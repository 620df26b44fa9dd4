// Redis with AOF, killed with SIGKILL in the middle of traffic and restarted on
// the same files: every acknowledged session and revocation is still there.
// `always` also survives a host crash; `everysec` survives a process kill
// because Redis writes the AOF (to the page cache) before it replies.
import { strict as assert } from 'node:assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { createTessera, SigningKeySet, type SessionTokens } from '@tessera/core'
import { freePort, startPrivateRedis, waitFor } from '../../../../../test/support/redis.js'
import { RedisSessionStore } from '../../index.js'

for (const fsync of ['always', 'everysec']) {
  void test(`keeps every acknowledged session and revocation across kill -9 with AOF appendfsync ${fsync}`, async (t) => {
    await killAndRestart(t, ['--appendonly', 'yes', '--appendfsync', fsync], fsync)
  })
}

async function killAndRestart(t: TestContext, persistence: string[], label: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-aof-'))
  const port = await freePort()
  let redis = await startPrivateRedis(persistence, { port, dir })
  t.after(async () => {
    await redis.stop('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  const store = await RedisSessionStore.connect({ url: redis.url, keyPrefix: 'aof:', commandTimeoutMs: 500 })
  t.after(() => store.close())
  const auth = await createTessera({ store, keys: await SigningKeySet.generate(), tokenKey: 'aof-test-token-key-of-32-bytes!!!!!!' })

  // What the store acknowledged: live sessions (with their latest tokens) and revoked ones.
  const live = new Map<string, SessionTokens>()
  const revoked: SessionTokens[] = []
  let stopped = false
  const worker = async (n: number) => {
    for (let i = 0; !stopped; i++) {
      // One user per session, so no session-limit eviction muddles what was acknowledged.
      let pending: string | null = null
      try {
        const tokens = await auth.createSession({ userId: `aof-${n}-${i}` })
        live.set(tokens.sessionId, tokens)
        const next = await auth.refreshSession(tokens.refreshToken)
        live.set(next.sessionId, next)
        if (i % 2 === 0) {
          pending = next.sessionId
          await auth.revokeSession(next.sessionId)
          live.delete(next.sessionId)
          revoked.push(next)
        }
      } catch {
        // Not acknowledged: the kill came first. A revocation in flight may or may not have landed, so claim nothing about it.
        if (pending) live.delete(pending)
        return
      }
    }
  }
  const workers = [0, 1, 2, 3].map(worker)
  await waitFor(() => revoked.length >= 100, 20_000)
  await redis.stop('SIGKILL')
  stopped = true
  await Promise.all(workers)

  redis = await startPrivateRedis(persistence, { port, dir })
  await waitFor(async () => (await store.connection.send(['PING'])) === 'PONG', 10_000)

  for (const tokens of revoked) {
    await assert.rejects(auth.verifyAccessToken(tokens.accessToken, { mode: 'strict' }), { code: 'ERR_SESSION_REVOKED' })
  }
  // A session whose last step was in flight at the kill may be one rotation behind; every acknowledged one is intact.
  for (const tokens of live.values()) {
    await auth.verifyAccessToken(tokens.accessToken, { mode: 'strict' })
  }
  const sample = [...live.values()].slice(0, 20)
  for (const tokens of sample) await auth.refreshSession(tokens.refreshToken)
  t.diagnostic(`aof ${label}: ${revoked.length} revocations and ${live.size} live sessions acknowledged before kill -9, all present after restart`)
}
