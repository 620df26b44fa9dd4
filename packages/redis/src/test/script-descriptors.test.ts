// Each Lua command is described once (script-descriptors.ts); these tests hold
// the descriptors to the Lua headers, and prove that a reply code no
// descriptor lists is an error on every path that runs a script.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { newLocalSessionId } from '@tessera/core'
import { redisStoreForTest } from '../../../../test/support/redis.js'
import type { RedisConnection } from '../connection.js'
import { RedisSessionStore } from '../redis-session-store.js'
import { SCRIPTS, type ScriptDescriptor } from '../script-descriptors.js'
import { replyName } from '../scripts.js'

const header = (file: string) => {
  const source = readFileSync(new URL(`../lua/${file}`, import.meta.url), 'utf8')
  return source.slice(0, source.indexOf(']]'))
}

describe('script descriptors', () => {
  for (const [name, d] of Object.entries(SCRIPTS) as [keyof typeof SCRIPTS, ScriptDescriptor][]) {
    test(`${name}: KEYS, ARGV and reply codes agree with ${d.file}`, () => {
      const text = header(d.file)
      if (d.keys === 'variadic') {
        // Repeated groups of KEYS and ARGV; one reply code, the per-item codes in the payload.
        assert.match(d.file, /-n\.lua$/, 'a varying KEYS count is n in the file name')
        assert.deepEqual(Object.values(d.replies), [Number(/Returns \{ (-?\d+),/.exec(text)![1])], 'reply code in the header')
        return
      }
      assert.equal(Number(/-(\d+)\.lua$/.exec(d.file)![1]), d.keys.length, 'KEYS count in the file name')
      const keys = [...text.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]))
      assert.equal(Math.max(...keys), d.keys.length, 'KEYS in the header')
      if (d.argv !== 'variadic') {
        const argv = [...text.matchAll(/ARGV\[(\d+)\]/g)].map((m) => Number(m[1]))
        assert.equal(Math.max(0, ...argv), d.argv.length, 'ARGV in the header')
        assert.equal(new Set(d.argv).size, d.argv.length, 'ARGV names are distinct')
      }
      const returns = text.slice(text.indexOf('Returns'))
      const codes = [...returns.matchAll(/^\s+(-?\d+)\s{2}/gm)].map((m) => Number(m[1])).sort()
      assert.deepEqual(codes, Object.values(d.replies).sort(), 'reply codes in the header')
      if (d.counts) assert.match(returns, /n >= 0|how many/, 'a counting script says so')
      if (d.retention !== undefined && d.argv !== 'variadic') assert.ok(d.argv.includes(d.retention), 'retention names an ARGV entry')
    })
  }

  test('a reply code no descriptor lists is ERR_STORE_UNAVAILABLE; counts are counts', () => {
    assert.equal(replyName('revokeSession', SCRIPTS.revokeSession, 1), 'revoked')
    assert.equal(replyName('revokeAllSessions', SCRIPTS.revokeAllSessions, 3), 'count')
    assert.throws(() => replyName('checkAccessToken', SCRIPTS.checkAccessToken, -4), { code: 'ERR_STORE_UNAVAILABLE', message: 'unexpected reply -4 from checkAccessToken' })
    assert.throws(() => replyName('revokeAllSessions', SCRIPTS.revokeAllSessions, -1), { code: 'ERR_STORE_UNAVAILABLE' })
    assert.throws(() => replyName('unbanUser', SCRIPTS.unbanUser, 2), { code: 'ERR_STORE_UNAVAILABLE' })
  })
})

describe('unknown reply codes through the store', () => {
  let real: RedisConnection
  let prefix: string
  let cleanup: () => Promise<void>
  before(async () => {
    const redis = await redisStoreForTest('odd-replies')
    real = redis.store.connection
    prefix = redis.prefix
    cleanup = () => redis.cleanup()
  })
  after(async () => cleanup())

  test('every store operation that runs a script refuses a reply code its descriptor does not list', async () => {
    // Real Redis runs every script; only the code of the reply is replaced by one no script answers.
    const odd: RedisConnection = {
      isCluster: false,
      async send(args, options) {
        const reply = await real.send(args, options)
        return String(args[0]).startsWith('EVAL') ? [-99, [], []] : reply
      },
      duplicate: () => real.duplicate(),
      close: async () => {},
    }
    const store = new RedisSessionStore(odd, { keyPrefix: prefix })
    const now = Date.now()
    const localId = newLocalSessionId(now)
    const base = { userId: 'u1', nowMs: now, revocationTtlMs: 60_000, tokenHorizonMs: 60_000 }
    const hash = Buffer.alloc(16)
    const calls: [string, () => Promise<unknown>][] = [
      ['createSession', () => store.createSession({ ...base, localId, idleExpiresAtMs: now + 60_000, absoluteExpiresAtMs: now + 60_000, refreshSecretHash: hash, deviceClass: 'web', metadata: Buffer.alloc(0), limits: { maxSessions: 10, policy: 'evict-oldest', perDeviceClass: {} }, dpopBound: false })],
      ['rotateRefreshToken', () => store.rotateRefreshToken({ ...base, localId, generation: 1, presentedHash: hash, successorHash: hash, idleTtlMs: 60_000, graceMs: 1000, presentedBoundHash: null, bind: false })],
      ['checkAccessToken', () => store.checkAccessToken({ userId: 'u1', localId, sessionCreatedAtMs: now, tokenId: 'jti', nowMs: now })],
      ['revokeSession', () => store.revokeSession({ ...base, localId, reason: 'logout' })],
      ['revokeAllSessions', () => store.revokeAllSessions({ ...base, reason: 'revoked' })],
      ['banUser', () => store.banUser({ ...base, untilMs: null, reason: '' })],
      ['unbanUser', () => store.unbanUser(base)],
      ['denyToken', () => store.denyToken({ userId: 'u1', tokenId: 'jti', expiresAtMs: now + 1000, nowMs: now })],
      ['issueOneTimeToken', () => store.issueOneTimeToken({ userId: 'u1', purpose: 'password-reset', secretHash: hash, expiresAtMs: now + 1000, data: '', nowMs: now })],
      ['consumeOneTimeToken', () => store.consumeOneTimeToken({ userId: 'u1', purpose: 'password-reset', secretHash: hash, nowMs: now, maxAttempts: 3 })],
      ['revokeOneTimeTokens', () => store.revokeOneTimeTokens({ userId: 'u1' })],
      ['writeSigningKeys', () => store.writeSigningKeys({ expectedVersion: 0, document: 'doc' })],
    ]
    for (const [name, call] of calls) {
      await assert.rejects(call(), (err: { code?: string; message?: string }) => {
        assert.equal(err.code, 'ERR_STORE_UNAVAILABLE', name)
        assert.match(err.message ?? '', /unexpected reply -99/, name)
        return true
      })
    }
    await store.close()
  })
})
