// The one configuration surface: environment variables to store options, and
// the checks that reject a half-configured topology with a clear message.
import { strict as assert } from 'node:assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { RedisSessionStore, redisOptionsFromEnv, topologyOf } from '../../index.js'

void test('returns null when no topology is configured', () => {
  assert.equal(redisOptionsFromEnv({}), null)
})

void test('reads a Sentinel topology with sentinel and data-node credentials', () => {
  assert.deepEqual(
    redisOptionsFromEnv({
      REDIS_SENTINELS: 's1:26379, [::1]:26380',
      REDIS_SENTINEL_MASTER: 'tessera',
      REDIS_SENTINEL_USERNAME: 'sentinel-user',
      REDIS_SENTINEL_PASSWORD: 'sentinel-pass',
      REDIS_SENTINEL_TLS: 'false',
      REDIS_USERNAME: 'tessera',
      REDIS_PASSWORD: 'secret',
    }),
    {
      sentinel: {
        nodes: [
          { host: 's1', port: 26379 },
          { host: '::1', port: 26380 },
        ],
        masterName: 'tessera',
        username: 'sentinel-user',
        password: 'sentinel-pass',
        tls: false,
      },
      username: 'tessera',
      password: 'secret',
    },
  )
})

void test('reads a Cluster topology with TLS material from files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'ca.pem'), 'CA')
  const options = redisOptionsFromEnv({ REDIS_CLUSTER_NODES: 'n1:7000,n2:7001', REDIS_TLS_CA: join(dir, 'ca.pem'), REDIS_TLS_SERVERNAME: 'redis.internal' })
  assert.deepEqual(options?.cluster, { nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }] })
  assert.equal(options?.tls?.ca?.toString(), 'CA')
  assert.equal(options?.tls?.servername, 'redis.internal')
  assert.deepEqual(redisOptionsFromEnv({ REDIS_URL: 'redis://h:6379', REDIS_TLS: '1' })?.tls, {})
})

void test('rejects conflicting or incomplete settings, naming the variable', () => {
  assert.throws(() => redisOptionsFromEnv({ REDIS_URL: 'redis://h', REDIS_CLUSTER_NODES: 'h:1' }), /only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES/)
  assert.throws(() => redisOptionsFromEnv({ REDIS_SENTINELS: 'h:26379' }), /REDIS_SENTINEL_MASTER/)
  assert.throws(() => redisOptionsFromEnv({ REDIS_URL: 'redis://h', REDIS_TLS: 'maybe' }), /REDIS_TLS must be true or false/)
  assert.throws(() => redisOptionsFromEnv({ REDIS_CLUSTER_NODES: 'h:70000' }), /REDIS_CLUSTER_NODES must be a comma-separated list of host:port/)
  assert.throws(() => redisOptionsFromEnv({ REDIS_CLUSTER_NODES: 'no-port' }), /REDIS_CLUSTER_NODES/)
  assert.throws(() => redisOptionsFromEnv({ REDIS_URL: 'redis://h', REDIS_TLS_CERT: '/nonexistent/cert.pem' }), /REDIS_TLS_CERT names a file that cannot be read/)
  assert.throws(() => topologyOf({ url: 'redis://h', sentinel: { nodes: [{ host: 'h', port: 1 }], masterName: 'm' } }), TypeError)
  assert.throws(() => topologyOf({ sentinel: { nodes: [], masterName: 'm' } }), /"sentinel.nodes"/)
})

void test('connect without a url, sentinel or cluster option refuses to guess a local Redis', async () => {
  await assert.rejects(RedisSessionStore.connect({}), { name: 'TypeError', message: /give one of the "url", "sentinel" or "cluster" options/ })
  await assert.rejects(RedisSessionStore.connect({ keyPrefix: 'auth:' }), TypeError)
  assert.equal(redisOptionsFromEnv({}), null)
})

void test('refuses a durability option without replicas before connecting', async () => {
  await assert.rejects(RedisSessionStore.connect({ url: 'redis://127.0.0.1:1', durability: { replicas: 0 } }), /"durability.replicas" option must be a positive integer/)
})
