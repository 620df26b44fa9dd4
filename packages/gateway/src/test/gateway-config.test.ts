import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { createTessera, SigningKeySet } from '@tessera/core'
import { redisStoreForTest, SHARED_REDIS_URL } from '../../../../test/support/redis.js'
import { originalRequest } from '../forwarded-request.js'
import { GatewayConfigError, loadGatewayConfig } from '../gateway-config.js'
import { createGatewayVerifier, FIXED_KEYS_WARNING } from '../gateway-main.js'
import { headerValue } from '../identity-headers.js'

const BASE = { REDIS_URL: 'redis://127.0.0.1:6379', TESSERA_ISSUER: 'https://auth.test', TESSERA_JWKS_URL: 'https://auth.test/.well-known/jwks.json' }

describe('gateway configuration', () => {
  test('defaults match the auth server (prefix, audience, token lifetime)', () => {
    const config = loadGatewayConfig(BASE)
    assert.equal(config.redisKeyPrefix, 'tessera:')
    assert.deepEqual(config.audience, ['tessera'])
    assert.equal(config.accessTokenTtlSeconds, null, 'unset: follow the issuer')
    assert.equal(config.issuerMetadataUrl, null)
    assert.deepEqual(config.algorithms, ['ES256', 'EdDSA'])
    assert.equal(config.port, 4000)
    assert.equal(config.path, '/forward-auth')
    assert.deepEqual(config.keys, { jwksUrl: BASE.TESSERA_JWKS_URL })
  })

  test('reads header names and claim headers', () => {
    const config = loadGatewayConfig({ ...BASE, TESSERA_GATEWAY_USER_HEADER: 'X-User', TESSERA_GATEWAY_CLAIM_HEADERS: 'scope=X-Scope, roles=X-Roles', TESSERA_AUDIENCE: 'a,b' })
    assert.deepEqual(config.headers, { user: 'X-User', claims: { scope: 'X-Scope', roles: 'X-Roles' } })
    assert.deepEqual(config.audience, ['a', 'b'])
  })

  test('names the bad variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...BASE, REDIS_URL: '' }, /REDIS_URL/],
      [{ ...BASE, TESSERA_ISSUER: '' }, /TESSERA_ISSUER/],
      [{ ...BASE, TESSERA_SIGNING_KEYS: '[]' }, /exactly one of TESSERA_JWKS_URL and TESSERA_SIGNING_KEYS/],
      [{ ...BASE, TESSERA_JWKS_URL: 'ftp://x' }, /TESSERA_JWKS_URL/],
      [{ ...BASE, TESSERA_ALGORITHMS: 'none' }, /TESSERA_ALGORITHMS/],
      [{ ...BASE, TESSERA_GATEWAY_CLAIM_HEADERS: 'scope' }, /TESSERA_GATEWAY_CLAIM_HEADERS/],
      [{ ...BASE, TESSERA_GATEWAY_CLAIM_HEADERS: 'scope=Cookie' }, /belongs to the proxy/],
      [{ ...BASE, TESSERA_GATEWAY_ON_STALE: 'open' }, /TESSERA_GATEWAY_ON_STALE/],
      [{ ...BASE, TESSERA_GATEWAY_PORT: '70000' }, /TESSERA_GATEWAY_PORT/],
    ]
    for (const [env, message] of cases) assert.throws(() => loadGatewayConfig(env), (err: Error) => err instanceof GatewayConfigError && message.test(err.message))
  })

  test('header values: plain ASCII as is, anything else percent-encoded', () => {
    assert.equal(headerValue('a b:c'), 'a b:c')
    assert.equal(headerValue(['a', 'b']), 'a b')
    assert.equal(headerValue(42), '42')
    assert.equal(headerValue({ a: 1 }), '{"a":1}')
    assert.equal(headerValue(undefined), '')
    assert.equal(headerValue('x\r\ny'), 'x%0D%0Ay')
    assert.equal(headerValue('100%'), '100%25')
  })

  test('recovers the original request from Traefik/NGINX headers or from the Envoy path prefix', () => {
    assert.deepEqual(originalRequest('GET', '/forward-auth', { 'x-forwarded-method': 'post', 'x-forwarded-uri': '/a?b=1', 'x-forwarded-host': 'api.test', 'x-forwarded-proto': 'https' }, '/forward-auth'), {
      method: 'POST',
      uri: '/a?b=1',
      host: 'api.test',
      proto: 'https',
    })
    assert.deepEqual(originalRequest('DELETE', '/forward-auth/orders/1?x=2', { host: 'api.test' }, '/forward-auth'), { method: 'DELETE', uri: '/orders/1?x=2', host: 'api.test', proto: null })
    assert.equal(originalRequest('GET', '/forward-auth?x=1', {}, '/forward-auth').uri, '/?x=1')
  })
})

describe('gateway start against the issuer it follows', () => {
  test('an ACCESS_TOKEN_TTL that disagrees with the lifetime the issuer advertises is a configuration error at start', async (t) => {
    const made = await redisStoreForTest('gateway-ttl')
    const keys = await SigningKeySet.generate({ alg: 'ES256' })
    // Its heartbeat in the log advertises a 300 s token lifetime.
    const auth = await createTessera({ store: made.store, keys, issuer: BASE.TESSERA_ISSUER, audience: 'api', tokenKey: randomBytes(32), accessTokenTtlSeconds: 300 })
    t.after(async () => {
      await auth.close()
      await made.cleanup()
    })
    const env = { REDIS_URL: SHARED_REDIS_URL, TESSERA_REDIS_PREFIX: made.prefix, TESSERA_ISSUER: BASE.TESSERA_ISSUER, TESSERA_AUDIENCE: 'api', TESSERA_SIGNING_KEYS: JSON.stringify(keys.toJSON()), TESSERA_ALGORITHMS: 'ES256' }
    await assert.rejects(createGatewayVerifier(loadGatewayConfig({ ...env, ACCESS_TOKEN_TTL: '900' })), (err: Error) => {
      assert.ok(err instanceof GatewayConfigError)
      assert.match(err.message, /ACCESS_TOKEN_TTL is 900 s but the issuer advertises 300 s/)
      return true
    })
    for (const ttl of ['300', undefined]) {
      const verifier = await createGatewayVerifier(loadGatewayConfig({ ...env, ...(ttl ? { ACCESS_TOKEN_TTL: ttl } : {}) }))
      assert.equal(verifier.issuerLimits()?.accessTokenTtlSeconds, 300)
      await verifier.close()
    }
  })
})

describe('gateway warnings', () => {
  test('started on a log no live issuer of TESSERA_ISSUER writes: it says so, naming the issuer it found, and answers 503', async (t) => {
    const made = await redisStoreForTest('gateway-silent')
    const keys = await SigningKeySet.generate({ alg: 'ES256' })
    const other = await createTessera({ store: made.store, keys, issuer: 'https://other.test', audience: 'api', tokenKey: randomBytes(32) })
    t.after(async () => {
      await other.close()
      await made.cleanup()
    })
    const warnings: string[] = []
    const env = { REDIS_URL: SHARED_REDIS_URL, TESSERA_REDIS_PREFIX: made.prefix, TESSERA_ISSUER: BASE.TESSERA_ISSUER, TESSERA_AUDIENCE: 'api', TESSERA_SIGNING_KEYS: JSON.stringify(keys.toJSON()), TESSERA_ALGORITHMS: 'ES256' }
    const verifier = await createGatewayVerifier(loadGatewayConfig(env), { onWarning: (m) => warnings.push(m) })
    t.after(() => verifier.close())
    const silent = warnings.filter((w) => w !== FIXED_KEYS_WARNING)
    assert.equal(silent.length, 1)
    assert.match(silent[0]!, /refuses every request \(503\).*"https:\/\/other\.test"/)
  })

  test('a fixed key set (TESSERA_SIGNING_KEYS) is warned about at start: a rotated key would be refused, TESSERA_JWKS_URL follows rotations', async (t) => {
    const made = await redisStoreForTest('gateway-fixed-keys')
    const keys = await SigningKeySet.generate({ alg: 'ES256' })
    const auth = await createTessera({ store: made.store, keys, issuer: BASE.TESSERA_ISSUER, audience: 'api', tokenKey: randomBytes(32) })
    t.after(async () => {
      await auth.close()
      await made.cleanup()
    })
    const warnings: string[] = []
    const env = { REDIS_URL: SHARED_REDIS_URL, TESSERA_REDIS_PREFIX: made.prefix, TESSERA_ISSUER: BASE.TESSERA_ISSUER, TESSERA_AUDIENCE: 'api', TESSERA_SIGNING_KEYS: JSON.stringify(keys.toJSON()), TESSERA_ALGORITHMS: 'ES256' }
    const verifier = await createGatewayVerifier(loadGatewayConfig(env), { onWarning: (m) => warnings.push(m) })
    t.after(() => verifier.close())
    assert.deepEqual(warnings, [FIXED_KEYS_WARNING])
    assert.match(warnings[0]!, /cannot learn a key rotated in later and refuses every token signed with it \(401\).*TESSERA_JWKS_URL/)
  })
})
