// The CLI beside the servers of a fleet, on the shared Redis under a prefix of its own: it is no issuer
// (no heartbeat in the revocation log), and its bans and revocations reach the fleet's webhooks.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import { createTessera, generateWebhookSecret, type Tessera } from '@tessera/core'
import { RedisDeliveryQueue, type RedisSessionStore } from '@tessera/redis'
import { redisStoreForTest, SHARED_REDIS_URL, waitFor } from '../../../../../test/support/redis.js'
import { FIXTURE_CONNECT_TIMEOUT_MS, SHARED_DATABASE_URL } from '../../../../../test/support/postgres.js'
import { buildApp } from '../../server/app.js'
import { MemoryMailer } from '../../server/test/helpers.js'
import { WebhookReceiver } from '../../server/test/webhook-receiver.js'
import { resolveWebhookEndpoints } from '../../server/webhooks/endpoints.js'
import { openPostgresUserStore } from '../../users/postgres.js'
import { withAdmin } from '../commands/runtime.js'
import { readCliConfig } from '../config.js'
import { cli, startCli, waitForExit } from './run-cli.js'

const TOKEN_KEY = 'cli-fleet-test-token-key-of-32-bytes!'

describe('the CLI in a fleet', { concurrency: true }, () => {
  let store: RedisSessionStore
  let prefix: string
  let cleanup: () => Promise<void>
  // Makes the sessions the commands act on. No heartbeat: on this prefix only the CLI could write one.
  let auth: Tessera
  let env: Record<string, string>
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-cli-fleet-'))

  before(async () => {
    const r = await redisStoreForTest('cli-fleet', SHARED_REDIS_URL, { commandTimeoutMs: 15_000 })
    store = r.store
    prefix = r.prefix
    cleanup = r.cleanup
    auth = await createTessera({ store, tokenKey: TOKEN_KEY, heartbeatIntervalMs: 0 })
    env = { REDIS_URL: SHARED_REDIS_URL, TESSERA_REDIS_PREFIX: prefix, TESSERA_DATA_DIR: dataDir, TESSERA_TOKEN_KEY: TOKEN_KEY }
  })
  after(async () => {
    await auth.close()
    await cleanup()
    rmSync(dataDir, { recursive: true, force: true })
  })

  test('admin commands write no issuer heartbeat into the revocation log: only the servers are issuers', async () => {
    const s = await auth.createSession({ userId: 'u-beat' })
    const tail = startCli(['events', 'tail', '--json', '--user', 'u-beat', '--count', '1'], env)
    try {
      await waitFor(() => tail.run.stderr.includes('following'), 180_000)
      const listed = await cli(['sessions', 'list', 'u-beat', '--json'], env)
      assert.equal(listed.code, 0, listed.stderr)
      await auth.revokeSession(s.sessionId)
      const finished = await waitForExit(tail, 180_000)
      assert.equal(finished.code, 0, finished.stderr)
    } finally {
      tail.child.kill('SIGKILL')
    }
    // The revocation, and no heartbeat of the tail's engine (an issuer writes one at start and every 5 s) nor of the listing's.
    const read = await auth.readRevocations(null, { count: 1000 })
    assert.deepEqual(read.heartbeats, [])
    assert.ok(read.entries.some((e) => e.event.userId === 'u-beat'))
  })

  test('with TESSERA_WEBHOOKS, bans, unbans, revoke-all and session revocations reach a webhook receiver through a server instance', async () => {
    const receiver = new WebhookReceiver(generateWebhookSecret())
    await receiver.listen()
    const endpoints = JSON.stringify([{ id: 'siem', url: receiver.url, secret: receiver.secret }])
    const schema = `t_cli_hooks_${randomBytes(5).toString('hex')}`
    const db = new pg.Client({ connectionString: SHARED_DATABASE_URL })
    await db.connect()
    await db.query(`CREATE SCHEMA ${schema}`)
    // One server instance of the fleet on the same store: it delivers what is in the shared queue, the CLI only queues.
    const serverAuth = await createTessera({ store, tokenKey: TOKEN_KEY, heartbeatIntervalMs: 0 })
    const users = await openPostgresUserStore({ url: SHARED_DATABASE_URL, schema, connectTimeoutMs: FIXTURE_CONNECT_TIMEOUT_MS })
    const queue = await RedisDeliveryQueue.open(store.connection, { keyPrefix: prefix, name: 'webhooks' })
    const app = await buildApp({
      auth: serverAuth,
      users,
      mailer: new MemoryMailer(),
      webDir: null,
      webhooks: { queue, endpoints: resolveWebhookEndpoints(JSON.parse(endpoints)), delivery: { pollMs: 20, baseDelayMs: 20, maxDelayMs: 200 } },
    })
    await app.ready()
    try {
      const hookEnv = { ...env, TESSERA_WEBHOOKS: endpoints }
      const revoked = await auth.createSession({ userId: 'u-hook-revoke' })
      for (let i = 0; i < 2; i++) await auth.createSession({ userId: 'u-hook-all' })
      await auth.createSession({ userId: 'u-hook-ban' })
      await auth.banUser('u-hook-unban')
      // The ban through the binary, as an operator runs it; the other commands' shared path (openAdmin) in this process.
      const ban = await cli(['users', 'ban', 'u-hook-ban', '--until', '2h', '--reason', 'abuse', '--json'], hookEnv)
      assert.equal(ban.code, 0, ban.stderr)
      await withAdmin(readCliConfig(hookEnv), async ({ auth: admin }) => {
        await admin.unbanUser('u-hook-unban')
        await admin.revokeAllSessions('u-hook-all', { reason: 'revoked' })
        await admin.revokeSession(revoked.sessionId, { reason: 'revoked' })
      })
      const until = (JSON.parse(ban.stdout) as { until: string }).until
      await waitFor(() => receiver.acknowledged.size >= 4, 120_000)
      const received = [...receiver.events.values()].map((e) => ({ type: e.type, data: e.data })).sort((a, b) => a.type.localeCompare(b.type))
      assert.deepEqual(received, [
        { type: 'session.revoked', data: { userId: 'u-hook-revoke', sessionId: revoked.sessionId, reason: 'revoked' } },
        { type: 'user.banned', data: { userId: 'u-hook-ban', until, reason: 'abuse', sessionsRevoked: 1 } },
        { type: 'user.sessions_revoked', data: { userId: 'u-hook-all', count: 2, exceptSessionId: null, reason: 'revoked' } },
        { type: 'user.unbanned', data: { userId: 'u-hook-unban' } },
      ])
      assert.equal(receiver.badSignatures, 0)
    } finally {
      await app.close()
      await users.close()
      await serverAuth.close()
      await receiver.close()
      await db.query(`DROP SCHEMA ${schema} CASCADE`)
      await db.end()
    }
  })
})
