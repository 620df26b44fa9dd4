// Start-up refuses an evicting Redis: an evicted session hash or denylist key
// would silently un-revoke a cut-off, a ban or a denied token.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { startPrivateRedis } from '../../../../../test/support/redis.js'
import { loadConfig } from '../config.js'
import { openResources } from '../resources.js'

void test('refuses to start on a Redis whose maxmemory-policy evicts keys, naming the policy', async (t) => {
  const redis = await startPrivateRedis(['--maxmemory-policy', 'allkeys-lru'])
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-resources-'))
  t.after(async () => {
    await redis.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })
  await assert.rejects(openResources(loadConfig({ REDIS_URL: redis.url, TESSERA_DATA_DIR: dataDir, LOG_LEVEL: 'silent' })), (err: { code?: string; message?: string }) => {
    assert.equal(err.code, 'ERR_REDIS_EVICTION_POLICY')
    assert.match(err.message ?? '', /allkeys-lru/)
    return true
  })
})
