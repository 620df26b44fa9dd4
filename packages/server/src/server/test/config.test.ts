import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, loadConfig } from '../config.js'

void test('with no environment the defaults are the embedded setup on 127.0.0.1:3000', () => {
  const config = loadConfig({}, '/srv/app')
  assert.equal(config.port, 3000)
  assert.equal(config.host, '127.0.0.1')
  assert.equal(config.redisUrl, null)
  assert.equal(config.databaseUrl, null)
  assert.equal(config.smtpUrl, null)
  assert.equal(config.dataDir, '/srv/app/.tessera')
  assert.equal(config.mailOutboxDir, '/srv/app/.tessera/outbox')
  assert.equal(config.publicUrl, 'http://127.0.0.1:3000')
  assert.equal(config.adminToken, null)
  assert.equal(config.clients.size, 0)
  assert.equal(config.accessTokenTtlSeconds, 900)
  assert.deepEqual([config.hashingPriority, config.hashingNice], ['idle', 10])
})

void test('reads every documented variable', () => {
  const config = loadConfig(
    {
      PORT: '8080',
      HOST: '0.0.0.0',
      REDIS_URL: 'rediss://:pw@redis.internal:6380',
      DATABASE_URL: 'postgresql://u:p@db/tessera',
      TESSERA_DATA_DIR: '/var/lib/tessera',
      TESSERA_ISSUER: 'https://auth.example',
      TESSERA_AUDIENCE: 'api',
      ACCESS_TOKEN_TTL: '300',
      REFRESH_IDLE_TTL: '86400',
      REFRESH_ABSOLUTE_TTL: '604800',
      TESSERA_MAX_SESSIONS: '5',
      TESSERA_ADMIN_TOKEN: 'a'.repeat(32),
      TESSERA_CLIENTS: 'api:0123456789abcdef, billing:fedcba9876543210',
      SMTP_URL: 'smtp://mail:25',
      TESSERA_MAIL_OUTBOX: '/tmp/outbox',
      TESSERA_PUBLIC_URL: 'https://auth.example/',
      TESSERA_COOKIE_SECURE: 'true',
      TESSERA_HASHING_PRIORITY: 'nice',
      TESSERA_HASHING_NICE: '0',
    },
    '/srv',
  )
  assert.deepEqual([config.hashingPriority, config.hashingNice], ['nice', 0])
  assert.equal(config.port, 8080)
  assert.equal(config.redisUrl, 'rediss://:pw@redis.internal:6380')
  assert.equal(config.dataDir, '/var/lib/tessera')
  assert.equal(config.refreshIdleTtlSeconds, 86400)
  assert.equal(config.maxSessions, 5)
  assert.deepEqual([...config.clients], [['api', '0123456789abcdef'], ['billing', 'fedcba9876543210']])
  assert.equal(config.publicUrl, 'https://auth.example')
  assert.equal(config.issuer, 'https://auth.example')
  assert.equal(config.cookieSecure, true)
  assert.equal(config.mailOutboxDir, '/tmp/outbox')
})

void test('bad settings are refused with a message naming the variable', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: 'eighty' }, /^PORT must be an integer/],
    [{ PORT: '70000' }, /^PORT/],
    [{ REDIS_URL: 'http://x' }, /^REDIS_URL must start with redis:\/\/ or rediss:\/\//],
    [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL/],
    [{ SMTP_URL: 'not a url' }, /^SMTP_URL is not a valid URL/],
    [{ ACCESS_TOKEN_TTL: '0' }, /^ACCESS_TOKEN_TTL/],
    [{ REFRESH_ABSOLUTE_TTL: '3600', REFRESH_IDLE_TTL: '7200' }, /^REFRESH_IDLE_TTL must be an integer from 60 to 3600/],
    [{ TESSERA_MAX_SESSIONS: '61' }, /^TESSERA_MAX_SESSIONS/],
    [{ TESSERA_ADMIN_TOKEN: 'short' }, /^TESSERA_ADMIN_TOKEN must be at least 24/],
    [{ TESSERA_CLIENTS: 'nocolon' }, /^TESSERA_CLIENTS/],
    [{ TESSERA_CLIENTS: 'api:short' }, /secret of client "api"/],
    [{ TESSERA_TOKEN_KEY: 'too short' }, /^TESSERA_TOKEN_KEY/],
    [{ TESSERA_COOKIE_SECURE: 'maybe' }, /^TESSERA_COOKIE_SECURE/],
    [{ REDIS_URL: 'redis://a', REDIS_CLUSTER_NODES: '127.0.0.1:7000' }, /only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES/],
    [{ REDIS_SENTINELS: '127.0.0.1:26379' }, /REDIS_SENTINEL_MASTER must be set/],
    [{ TESSERA_REDIS_WAIT_REPLICAS: '-1' }, /^TESSERA_REDIS_WAIT_REPLICAS/],
    [{ TESSERA_HASHING_PRIORITY: 'low' }, /^TESSERA_HASHING_PRIORITY must be idle or nice/],
    [{ TESSERA_HASHING_NICE: '20' }, /^TESSERA_HASHING_NICE must be an integer from 0 to 19/],
  ]
  for (const [env, message] of cases) {
    assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && message.test(err.message), JSON.stringify(env))
  }
})

void test('Sentinel, Cluster and the replication wait are read from the environment', () => {
  const sentinel = loadConfig({ REDIS_SENTINELS: '127.0.0.1:26379,127.0.0.1:26380', REDIS_SENTINEL_MASTER: 'tessera', TESSERA_REDIS_WAIT_REPLICAS: '1' })
  assert.equal(sentinel.redis?.sentinel?.masterName, 'tessera')
  assert.equal(sentinel.redis?.sentinel?.nodes.length, 2)
  assert.deepEqual(sentinel.redisDurability, { replicas: 1, timeoutMs: 500 })
  const cluster = loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001', REDIS_USERNAME: 'tessera', REDIS_PASSWORD: 'pw' })
  assert.equal(cluster.redis?.cluster?.nodes.length, 2)
  assert.equal(cluster.redisDurability, null)
  assert.equal(loadConfig({}).redis, null)
})
