// The engine the admin commands open (openAdmin), in this process against the shared Redis:
// it is built from the same configuration as the server's, and it is not an issuer.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { deleteKeys, SHARED_REDIS_URL, uniquePrefix } from '../../../../../test/support/redis.js'
import { openAdmin, withAdmin } from '../commands/runtime.js'
import { readCliConfig } from '../config.js'

describe('the admin engine', () => {
  const prefixes: string[] = []
  const dirs: string[] = []
  after(async () => {
    for (const prefix of prefixes) await deleteKeys(SHARED_REDIS_URL, prefix)
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  function environment(extra: Record<string, string> = {}): Record<string, string> {
    const prefix = uniquePrefix('cli-admin')
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-cli-admin-'))
    prefixes.push(prefix)
    dirs.push(dataDir)
    return { REDIS_URL: SHARED_REDIS_URL, TESSERA_REDIS_PREFIX: prefix, TESSERA_DATA_DIR: dataDir, ...extra }
  }

  test('takes the refresh lifetimes, session limit, issuer and audience from the configuration, as the server does', async () => {
    const env = environment({
      TESSERA_TOKEN_KEY: 'admin-engine-test-token-key-of-32-bytes',
      REFRESH_IDLE_TTL: '3600',
      REFRESH_ABSOLUTE_TTL: '7200',
      ACCESS_TOKEN_TTL: '120',
      TESSERA_MAX_SESSIONS: '2',
      TESSERA_ISSUER: 'https://auth.admin.test',
      TESSERA_AUDIENCE: 'admin-api',
    })
    await withAdmin(readCliConfig(env), async ({ auth }) => {
      const o = auth.options
      assert.deepEqual(
        [o.refreshIdleTtlSeconds, o.refreshAbsoluteTtlSeconds, o.accessTokenTtlSeconds, o.limits.maxSessions, o.issuer, o.audience],
        [3600, 7200, 120, 2, 'https://auth.admin.test', 'admin-api'],
      )
      // The limit acts: a third session ends the oldest (the default policy), as on the server.
      for (let i = 0; i < 3; i++) await auth.createSession({ userId: 'u-limit' })
      assert.equal((await auth.listSessions('u-limit')).length, 2)
    })
  })

  test('writes no issuer heartbeat and invents no token key, and close ends the engine and the connection', async () => {
    const env = environment()
    const config = readCliConfig(env)
    const admin = await openAdmin(config)
    try {
      await admin.auth.listSessions('u-none')
      // A fresh prefix: anything in the log was written by this engine. An issuer writes its first beat at start.
      assert.equal((await admin.auth.revocationLogInfo()).length, 0, 'no heartbeat in the revocation log')
      assert.equal(admin.auth.options.heartbeatIntervalMs, 0)
    } finally {
      await admin.close()
    }
    assert.equal(existsSync(join(config.dataDir, 'token.key')), false, 'the servers make the token key, never an admin command')
    await assert.rejects(admin.auth.listSessions('u-none'), { code: 'ERR_STORE_UNAVAILABLE' })
    await admin.close()
  })
})
