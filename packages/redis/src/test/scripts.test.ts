// Each Lua script, called directly, for every return code it documents; plus
// the invariants every script keeps (TTLs, SCRIPT FLUSH survival, the Cluster
// path that returns events instead of logging them).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { newLocalSessionId } from '@tessera/core'
import { redisStoreForTest } from '../../../../test/support/redis.js'
import type { RedisConnection } from '../connection.js'
import { KeyNames } from '../key-names.js'
import { Scripts, type ScriptName } from '../scripts.js'

const HOUR = 3_600_000
/** Token horizon passed to the logging scripts: access-token lifetime plus refresh grace. */
const HORIZON = 70_000
const hash = (c: string) => Buffer.alloc(16, c)

describe('Lua scripts', () => {
  let connection: RedisConnection
  let keys: KeyNames
  let cleanup: () => Promise<void>
  const scripts = new Scripts()
  let n = 0
  const now = Date.now()

  before(async () => {
    const made = await redisStoreForTest('scripts')
    connection = made.store.connection
    keys = new KeyNames(made.prefix)
    cleanup = () => made.cleanup()
  })
  after(async () => cleanup())

  const user = () => `u${++n}`
  const run = (name: ScriptName, k: string[], args: (string | number | Buffer)[], buffers = false) =>
    scripts.run(connection, name, k, args.map((a) => (typeof a === 'number' ? String(a) : a)), { buffers })
  const log = () => keys.revocationLog()
  const create = (userId: string, localId: string, opts: { max?: number; policy?: string; classLimit?: number; cls?: string; at?: number; bound?: boolean } = {}) =>
    run('createSession', [keys.user(userId), log()], [
      userId, localId, opts.at ?? now, (opts.at ?? now) + HOUR, (opts.at ?? now) + 24 * HOUR, hash('a'), opts.cls ?? 'default', 'meta',
      opts.max ?? 10, opts.policy ?? 'evict-oldest', opts.classLimit ?? 0, 60_000, opts.bound ? '1' : '0', HORIZON,
    ])
  const rotate = (userId: string, localId: string, gen: number, presented: Buffer, successor: Buffer, at = now, dpop: { bound?: Buffer; bind?: boolean } = {}) =>
    run('rotateRefreshToken', [keys.user(userId), log()], [userId, localId, gen, presented, successor, at, HOUR, 10_000, 60_000, dpop.bound ?? '', dpop.bind ? '1' : '0', HORIZON], true)
  const check = (userId: string, localId: string, createdAt: number, jti = 'jti', at = now) =>
    run('checkAccessToken', [keys.user(userId), keys.deniedToken(userId, jti)], [localId, createdAt, at])
  const pttl = async (key: string) => Number(await connection.send(['PTTL', key]))

  describe('createSession-2', () => {
    test('1: creates the session, returns evicted ids, and gives the hash a TTL', async () => {
      const u = user()
      const first = newLocalSessionId(now - 10)
      assert.deepEqual(await create(u, first, { max: 1 }), { code: 1, payload: [], pending: [] })
      const second = newLocalSessionId(now)
      assert.deepEqual((await create(u, second, { max: 1 })).payload, [first])
      const ttl = await pttl(keys.user(u))
      assert.ok(ttl > HOUR - 5000 && ttl <= HOUR, `ttl ${ttl}`)
      assert.equal(await connection.send(['OBJECT', 'ENCODING', keys.user(u)]), 'listpack')
    })
    test('-1: refuses a banned user, returning the ban end', async () => {
      const u = user()
      await run('revokeAllSessions', [keys.user(u), log()], [u, now, 'banned', 60_000, '', 'p', 'why', HORIZON])
      assert.deepEqual((await create(u, newLocalSessionId(now + 1))).code, -1)
      assert.deepEqual((await create(u, newLocalSessionId(now + 1))).payload, ['p'])
    })
    test('-2: refuses a session over the limit under the deny policy', async () => {
      const u = user()
      await create(u, newLocalSessionId(now - 1), { max: 1, policy: 'deny' })
      assert.equal((await create(u, newLocalSessionId(now), { max: 1, policy: 'deny' })).code, -2)
    })
    test('-3: refuses a local id not after the cut-off, returning it', async () => {
      const u = user()
      await run('revokeAllSessions', [keys.user(u), log()], [u, now, 'revoked', 60_000, '', '', '', HORIZON])
      const reply = await create(u, newLocalSessionId(now))
      assert.equal(reply.code, -3)
      assert.equal(Number(reply.payload[0]), now)
      assert.equal((await create(u, newLocalSessionId(now + 1))).code, 1)
    })
  })

  describe('rotateRefreshToken-2', () => {
    test('1 then 2: rotates, then answers a retry with the same generation inside grace', async () => {
      const u = user()
      const id = newLocalSessionId(now)
      await create(u, id)
      const rotated = await rotate(u, id, 1, hash('a'), hash('b'))
      assert.equal(rotated.code, 1)
      assert.equal(rotated.payload[0], 2)
      const retried = await rotate(u, id, 1, hash('a'), hash('b'), now + 10_000)
      assert.equal(retried.code, 2)
      assert.equal(retried.payload[0], 2)
    })
    test('-1: no such session', async () => {
      assert.equal((await rotate(user(), newLocalSessionId(now), 1, hash('a'), hash('b'))).code, -1)
    })
    test('-2: an idle-expired session is removed', async () => {
      const u = user()
      const id = newLocalSessionId(now)
      await create(u, id)
      assert.equal((await rotate(u, id, 1, hash('a'), hash('b'), now + HOUR)).code, -2)
      assert.equal(await connection.send(['HEXISTS', keys.user(u), id]), 0)
    })
    test('-3: an old generation after grace revokes the session and logs reuse, returning the session\'s class and device metadata', async () => {
      const u = user()
      const id = newLocalSessionId(now)
      await create(u, id, { cls: 'mobile' })
      await rotate(u, id, 1, hash('a'), hash('b'))
      const reused = await rotate(u, id, 1, hash('a'), hash('b'), now + 10_001)
      assert.equal(reused.code, -3)
      assert.deepEqual((reused.payload as Buffer[]).map((b) => b.toString('latin1')), ['mobile', 'meta'])
      assert.equal(await connection.send(['HEXISTS', keys.user(u), id]), 0)
      const last = (await connection.send(['XREVRANGE', log(), '+', '-', 'COUNT', '1'])) as [string, string[]][]
      assert.deepEqual(last[0]?.[1].slice(0, 8), ['k', 's', 'u', u, 'l', id, 'r', 'refresh_reuse_detected'])
    })
    test('-4: a hash that does not match the current or previous generation', async () => {
      const u = user()
      const id = newLocalSessionId(now)
      await create(u, id)
      assert.equal((await rotate(u, id, 1, hash('z'), hash('b'))).code, -4)
      assert.equal((await rotate(u, id, 5, hash('a'), hash('b'))).code, -4)
      await rotate(u, id, 1, hash('a'), hash('b'))
      assert.equal((await rotate(u, id, 1, hash('z'), hash('b'))).code, -4)
    })
    test('-5: a DPoP-bound session refreshed without the bound hash is revoked and logged; with it, it rotates and stays bound', async () => {
      const u = user()
      const id = newLocalSessionId(now)
      // Bound: the stored hash ('a') is the hash of secret and key; the secret alone hashes to something else ('s').
      await create(u, id, { bound: true })
      const ok = await rotate(u, id, 1, hash('s'), hash('b'), now, { bound: hash('a'), bind: true })
      assert.equal(ok.code, 1)
      assert.equal(ok.payload[6], 1)
      assert.equal(await connection.send(['OBJECT', 'ENCODING', keys.user(u)]), 'listpack')
      assert.equal((await rotate(u, id, 2, hash('t'), hash('c'), now, { bound: hash('x'), bind: true })).code, -5)
      assert.equal(await connection.send(['HEXISTS', keys.user(u), id]), 0)
      const last = (await connection.send(['XREVRANGE', log(), '+', '-', 'COUNT', '1'])) as [string, string[]][]
      assert.deepEqual(last[0]?.[1].slice(0, 8), ['k', 's', 'u', u, 'l', id, 'r', 'dpop_key_mismatch'])
      const other = newLocalSessionId(now)
      await create(u, other, { bound: true })
      assert.equal((await rotate(u, other, 1, hash('a'), hash('b'))).code, -5, 'no proof at all')
    })
    test('an unbound session rotated with a proof becomes bound', async () => {
      const u = user()
      const id = newLocalSessionId(now)
      await create(u, id)
      const rotated = await rotate(u, id, 1, hash('a'), hash('b'), now, { bound: hash('k'), bind: true })
      assert.equal(rotated.payload[6], 1)
      assert.equal((await rotate(u, id, 2, hash('b'), hash('c'))).code, -5)
    })
  })

  describe('checkAccessToken-2', () => {
    test('1, -1, -2, -3', async () => {
      const u = user()
      const id = newLocalSessionId(now)
      await create(u, id)
      assert.equal((await check(u, id, now)).code, 1)
      assert.equal((await check(u, newLocalSessionId(now), now)).code, -1)
      assert.equal((await check(u, id, now, 'jti', now + HOUR)).code, -1)
      await run('denyToken', [keys.deniedToken(u, 'jti'), log()], [u, 'jti', now + 60_000, now, 65_000])
      assert.equal((await check(u, id, now)).code, -2)
      await run('revokeAllSessions', [keys.user(u), log()], [u, now, 'revoked', 60_000, '', '', '', HORIZON])
      assert.equal((await check(u, id, now)).code, -3)
    })
    test('the session ends at the earlier of its idle and absolute expiry, to the millisecond', async () => {
      const u = user()
      const id = newLocalSessionId(now)
      await create(u, id)
      // create() sets idle expiry now + 1 h, absolute now + 24 h.
      assert.equal((await check(u, id, now, 'jti', now + HOUR - 1)).code, 1)
      assert.equal((await check(u, id, now, 'jti', now + HOUR)).code, -1)
      const late = user()
      const lateId = newLocalSessionId(now)
      await run('createSession', [keys.user(late), log()], [late, lateId, now, now + 2 * HOUR, now + HOUR, hash('a'), 'default', 'meta', 10, 'evict-oldest', 0, 60_000, '0', HORIZON])
      // Idle expiry after the absolute one: the absolute one ends it.
      assert.equal((await check(late, lateId, now, 'jti', now + HOUR - 1)).code, 1)
      assert.equal((await check(late, lateId, now, 'jti', now + HOUR)).code, -1)
    })
  })

  describe('revokeSession-2', () => {
    test('1 once, then 0', async () => {
      const u = user()
      const id = newLocalSessionId(now)
      await create(u, id)
      assert.equal((await run('revokeSession', [keys.user(u), log()], [u, id, now, 'logout', 60_000, HORIZON])).code, 1)
      assert.equal((await run('revokeSession', [keys.user(u), log()], [u, id, now, 'logout', 60_000, HORIZON])).code, 0)
      // only the revocation cut-off could keep the hash; without one it is gone
      assert.equal(await connection.send(['EXISTS', keys.user(u)]), 0)
    })
  })

  describe('revokeAllSessions-2', () => {
    test('returns the number of live sessions ended, keeps the excepted one, keeps the cut-off for the revocation ttl', async () => {
      const u = user()
      const ids = [newLocalSessionId(now - 3), newLocalSessionId(now - 2), newLocalSessionId(now - 1)]
      for (const id of ids) await create(u, id)
      assert.equal((await run('revokeAllSessions', [keys.user(u), log()], [u, now, 'revoked', 60_000, ids[0]!, '', '', HORIZON])).code, 2)
      assert.equal(await connection.send(['HEXISTS', keys.user(u), ids[0]!]), 1)
      assert.equal((await run('revokeAllSessions', [keys.user(u), log()], [u, now, 'revoked', 60_000, '', '', '', HORIZON])).code, 1)
      assert.equal(await connection.send(['HLEN', keys.user(u)]), 1)
      const ttl = await pttl(keys.user(u))
      assert.ok(ttl > 50_000 && ttl <= 60_000, `ttl ${ttl}`)
    })
    test('the cut-off covers a session whose creation time is later than now (made on a clock ahead), and x covers its last refresh', async () => {
      const u = user()
      const ahead = newLocalSessionId(now + 800)
      await create(u, ahead, { at: now + 800 })
      const start = (await connection.send(['XINFO', 'STREAM', log()])) as unknown[]
      const lastId = String(start[start.indexOf('last-generated-id') + 1])
      await run('revokeAllSessions', [keys.user(u), log()], [u, now, 'revoked', 60_000, '', '', '', HORIZON])
      assert.equal(await connection.send(['HGET', keys.user(u), '!cut']), String(now + 800))
      const [[, fields]] = (await connection.send(['XRANGE', log(), `(${lastId}`, '+', 'COUNT', '1'])) as [string, string[]][] as [[string, string[]]]
      assert.deepEqual(fields, ['k', 'u', 'u', u, 'c', String(now + 800), 'r', 'revoked', 'a', String(now), 'x', String(now + 800 + HORIZON)])
      // A session made afterwards on a clock behind gets -3 and the cut-off, to make its id newer.
      assert.deepEqual((await create(u, newLocalSessionId(now - 800), { at: now - 800 })).payload, [String(now + 800)])
    })
    test('a permanent ban removes the TTL; a temporary one keeps the hash until it ends', async () => {
      const u = user()
      await run('revokeAllSessions', [keys.user(u), log()], [u, now, 'banned', 60_000, '', 'p', '', HORIZON])
      assert.equal(await pttl(keys.user(u)), -1)
      const v = user()
      await run('revokeAllSessions', [keys.user(v), log()], [v, now, 'banned', 60_000, '', String(now + 2 * HOUR), '', HORIZON])
      assert.ok((await pttl(keys.user(v))) > HOUR)
    })
  })

  describe('unbanUser-1', () => {
    test('1 when a ban in force is lifted, 0 otherwise', async () => {
      const u = user()
      assert.equal((await run('unbanUser', [keys.user(u)], [now, 60_000])).code, 0)
      await run('revokeAllSessions', [keys.user(u), log()], [u, now, 'banned', 60_000, '', 'p', '', HORIZON])
      assert.equal((await run('unbanUser', [keys.user(u)], [now, 60_000])).code, 1)
      assert.ok((await pttl(keys.user(u))) > 0)
    })
  })

  describe('writeSigningKeys-1', () => {
    test('1 over nothing and over the version read; -1 with the stored version and document otherwise; no TTL', async () => {
      const key = keys.signingKeys()
      assert.deepEqual(await run('writeSigningKeys', [key], [0, 'doc-1']), { code: 1, payload: [1], pending: [] })
      assert.deepEqual(await run('writeSigningKeys', [key], [0, 'doc-x']), { code: -1, payload: [1, 'doc-1'], pending: [] })
      assert.deepEqual(await run('writeSigningKeys', [key], [1, 'doc-2']), { code: 1, payload: [2], pending: [] })
      assert.deepEqual(await run('writeSigningKeys', [key], [1, 'doc-y']), { code: -1, payload: [2, 'doc-2'], pending: [] })
      assert.equal(await pttl(key), -1)
    })
  })

  describe('denyToken-2, issueOneTimeToken-1, consumeOneTimeToken-1', () => {
    test('denyToken sets a key that expires with the token', async () => {
      const u = user()
      assert.equal((await run('denyToken', [keys.deniedToken(u, 'j1'), log()], [u, 'j1', now + 30_000, now, 35_000])).code, 1)
      const ttl = await pttl(keys.deniedToken(u, 'j1'))
      assert.ok(ttl > 25_000 && ttl <= 30_000)
    })
    test('1, -2 (attempt counted), -1 after attempts run out, -1 when expired', async () => {
      const u = user()
      const key = keys.oneTimeTokens(u)
      const p = 'password-reset'
      assert.equal((await run('issueOneTimeToken', [key], [p, hash('s'), now + 60_000, 'data', now])).code, 1)
      assert.ok((await pttl(key)) > 0)
      assert.equal((await run('consumeOneTimeToken', [key], [p, hash('x'), now, 2])).code, -2)
      assert.deepEqual((await run('consumeOneTimeToken', [key], [p, hash('s'), now, 2])).payload, ['data'])
      assert.equal((await run('consumeOneTimeToken', [key], [p, hash('s'), now, 2])).code, -1)
      await run('issueOneTimeToken', [key], [p, hash('s'), now + 60_000, '', now])
      assert.equal((await run('consumeOneTimeToken', [key], [p, hash('x'), now, 2])).code, -2)
      assert.equal((await run('consumeOneTimeToken', [key], [p, hash('x'), now, 2])).code, -2)
      assert.equal((await run('consumeOneTimeToken', [key], [p, hash('s'), now, 2])).code, -1)
      await run('issueOneTimeToken', [key], [p, hash('s'), now + 60_000, '', now])
      assert.equal((await run('consumeOneTimeToken', [key], [p, hash('s'), now + 60_000, 2])).code, -1)
    })
    test('the hash expires with its longest-lived token; revokeOneTimeTokens counts what it ended', async () => {
      const u = user()
      const key = keys.oneTimeTokens(u)
      await run('issueOneTimeToken', [key], ['password-reset', hash('s'), now + 60_000, '', now])
      await run('issueOneTimeToken', [key], ['email-verification', hash('v'), now + 600_000, '', now])
      assert.ok((await pttl(key)) > 60_000)
      assert.equal((await run('revokeOneTimeTokens', [key], ['password-reset', 'other'])).code, 1)
      assert.equal((await run('consumeOneTimeToken', [key], ['password-reset', hash('s'), now, 2])).code, -1)
      assert.equal((await run('revokeOneTimeTokens', [key], [])).code, 1)
      assert.equal(await pttl(key), -2)
      assert.equal((await run('revokeOneTimeTokens', [key], [])).code, 0)
    })
  })

  describe('invariants', () => {
    test('without a log key (Cluster) events are returned, not written', async () => {
      const u = user()
      const id = newLocalSessionId(now)
      await run('createSession', [keys.user(u)], [u, id, now, now + HOUR, now + 2 * HOUR, hash('a'), 'default', 'm', 10, 'evict-oldest', 0, 60_000, HORIZON])
      const reply = await run('revokeSession', [keys.user(u)], [u, id, now, 'logout', 60_000, HORIZON])
      assert.deepEqual(reply.pending, [['k', 's', 'u', u, 'l', id, 'r', 'logout', 'a', String(now), 'x', now + HORIZON]])
    })
    test('scripts keep working after SCRIPT FLUSH', async () => {
      await connection.send(['SCRIPT', 'FLUSH'])
      const u = user()
      assert.equal((await create(u, newLocalSessionId(now))).code, 1)
    })
    test('the log is trimmed to the retention given, and a reader behind the trim is told of the gap', async () => {
      const made = await redisStoreForTest('trim')
      try {
        const logKey = made.store.revocationLogKey
        // 150 entries far older than any retention: more than one stream node, so approximate trimming can drop one
        for (let i = 1; i <= 150; i++) await made.store.connection.send(['XADD', logKey, `1-${i}`, 'k', 'x'])
        const u = user()
        const id = newLocalSessionId(now)
        await scripts.run(made.store.connection, 'createSession', [new KeyNames(made.prefix).user(u), logKey], [u, id, String(now), String(now + HOUR), String(now + 2 * HOUR), hash('a'), 'default', 'm', '10', 'evict-oldest', '0', '60000', '70000'])
        await made.store.revokeSession({ userId: u, localId: id, nowMs: now, reason: 'logout', revocationTtlMs: 60_000, tokenHorizonMs: HORIZON })
        const first = (await made.store.connection.send(['XRANGE', logKey, '-', '+', 'COUNT', '1'])) as [string, unknown][]
        assert.notEqual(first[0]?.[0], '1-1')
        assert.equal((await made.store.readRevocations('1-1')).gap, true)
        const fromStart = await made.store.readRevocations(null)
        assert.equal(fromStart.gap, false)
        assert.equal(fromStart.entries.at(-1)?.event.kind, 'session')
      } finally {
        await made.cleanup()
      }
    })
  })
})
