import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { decodeDeviceMetadata, encodeDeviceMetadata, normaliseDevice } from '../device.js'
import { formatSessionId, localIdCreatedAtMs, newLocalSessionId, parseSessionId, assertUserId } from '../ids.js'
import { formatOneTimeToken, parseOneTimeToken } from '../one-time-token.js'
import { resolveOptions } from '../options.js'
import { formatRefreshToken, parseRefreshToken } from '../refresh-token.js'
import { TokenSecrets, hashSecret } from '../token-secrets.js'

const secrets = new TokenSecrets(Buffer.alloc(32, 1))

describe('ids', () => {
  test('a session id carries its user and creation time and round-trips', () => {
    const localId = newLocalSessionId(1_795_000_000_123)
    assert.equal(localIdCreatedAtMs(localId), 1_795_000_000_123)
    const id = formatSessionId('user@example.com', localId)
    assert.deepEqual(parseSessionId(id), { userId: 'user@example.com', localId, createdAtMs: 1_795_000_000_123 })
  })
  test('refuses malformed session ids and user ids that would break a hash tag', () => {
    for (const bad of ['', 'abc', `${'a'.repeat(16)}.`, `${'a'.repeat(16)}.${Buffer.from('a{b').toString('base64url')}`, 42]) assert.equal(parseSessionId(bad), null)
    for (const bad of ['', 'a b', 'a{b', 'a}b', 'x'.repeat(129), 7]) assert.throws(() => assertUserId(bad), { code: 'ERR_INVALID_INPUT' })
  })
})

describe('refresh tokens', () => {
  const sessionId = formatSessionId('42', newLocalSessionId(Date.now()))
  const secret = Buffer.alloc(32, 9)
  test('format and parse round-trip', () => {
    const token = formatRefreshToken(secrets, sessionId, 3, secret)
    assert.match(token, /^tsr1\./)
    const parts = parseRefreshToken(secrets, token)
    assert.equal(parts.sessionId, sessionId)
    assert.equal(parts.generation, 3)
    assert.deepEqual(parts.secret, secret)
  })
  test('every changed part, and another key, fails authentication', () => {
    const token = formatRefreshToken(secrets, sessionId, 3, secret)
    const parts = token.split('.')
    for (let i = 1; i < parts.length; i++) {
      const changed = [...parts]
      changed[i] = i === 4 ? changed[i]!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) : i === 3 ? '4' : changed[i]!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))
      assert.throws(() => parseRefreshToken(secrets, changed.join('.')), { code: 'ERR_REFRESH_TOKEN_INVALID' })
    }
    assert.throws(() => parseRefreshToken(new TokenSecrets(Buffer.alloc(32, 2)), token), { code: 'ERR_REFRESH_TOKEN_INVALID' })
  })
  test('successors are deterministic per key and differ between generations', () => {
    assert.deepEqual(secrets.successorSecret(sessionId, 2, secret), secrets.successorSecret(sessionId, 2, secret))
    assert.notDeepEqual(secrets.successorSecret(sessionId, 2, secret), secrets.successorSecret(sessionId, 3, secret))
    assert.notDeepEqual(secrets.successorSecret(sessionId, 2, secret), new TokenSecrets(Buffer.alloc(32, 2)).successorSecret(sessionId, 2, secret))
    assert.equal(hashSecret(secret).length, 16)
  })
})

describe('one-time tokens', () => {
  test('format and parse round-trip; tampering fails', () => {
    const token = formatOneTimeToken(secrets, 'u1', 'password-reset', Buffer.alloc(32, 3))
    assert.deepEqual(parseOneTimeToken(secrets, token), { userId: 'u1', purpose: 'password-reset', secret: Buffer.alloc(32, 3) })
    assert.throws(() => parseOneTimeToken(secrets, token.replace('password-reset', 'email-verification')), { code: 'ERR_ONE_TIME_TOKEN_INVALID' })
    assert.throws(() => parseOneTimeToken(secrets, 'tso1.a.b.c.d'), { code: 'ERR_ONE_TIME_TOKEN_INVALID' })
  })
})

describe('device metadata', () => {
  test('round-trips and compresses a typical user agent well under the listpack limit', () => {
    const device = normaliseDevice({ userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', ip: '198.51.100.7', name: 'Laptop' })
    const bytes = encodeDeviceMetadata(device)
    assert.ok(bytes.length <= 40, `${bytes.length} bytes`)
    assert.deepEqual(decodeDeviceMetadata(bytes, device.deviceClass), device)
  })
  test('refuses bad input with ERR_INVALID_INPUT', () => {
    assert.throws(() => normaliseDevice({ ip: 'not-an-ip' }), { code: 'ERR_INVALID_INPUT' })
    // Deliberate change (CHANGELOG): a long device name is cut like a long user agent, not refused.
    assert.equal(normaliseDevice({ name: 'x'.repeat(65) }).name, 'x'.repeat(64))
    assert.throws(() => normaliseDevice({ name: 42 as unknown as string }), { code: 'ERR_INVALID_INPUT' })
    assert.throws(() => normaliseDevice({ deviceClass: 'Mobile Phone' }), { code: 'ERR_INVALID_INPUT' })
  })
  test('garbage bytes decode to empty fields rather than throwing', () => {
    assert.deepEqual(decodeDeviceMetadata(Buffer.from([1, 9, 9, 9]), 'x'), { userAgent: '', ip: '', name: '', deviceClass: 'x' })
  })
})

describe('options', () => {
  test('fills defaults', () => {
    const o = resolveOptions()
    assert.equal(o.accessTokenTtlSeconds, 900)
    assert.equal(o.limits.maxSessions, 10)
    // Access-token lifetime + refresh grace (a retried refresh issues a token up to 10 s after the last rotation).
    assert.equal(o.revocationTtlMs, 910_000)
  })
  test('throws a TypeError naming the bad option', () => {
    assert.throws(() => resolveOptions({ accessTokenTtlSeconds: 0 }), /"accessTokenTtlSeconds"/)
    assert.throws(() => resolveOptions({ tokenKey: 'short' }), /"tokenKey"/)
    assert.throws(() => resolveOptions({ maxSessions: 61 }), /"maxSessions"/)
    assert.throws(() => resolveOptions({ sessionLimitPolicy: 'random' as never }), /"sessionLimitPolicy"/)
    assert.throws(() => resolveOptions({ algorithms: ['none' as never] }), /"algorithms"/)
    assert.throws(() => resolveOptions({ refreshIdleTtlSeconds: 100, refreshAbsoluteTtlSeconds: 60 }), /"refreshIdleTtlSeconds"/)
    assert.throws(() => resolveOptions({ audience: [] }), /"audience"/)
  })
})
