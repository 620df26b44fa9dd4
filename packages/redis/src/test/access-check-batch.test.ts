// Strict checks issued in one turn of the event loop reach Redis as one script
// call, and each caller still gets its own token's status; checks that arrive
// while a call is out wait for it and go together, their time limit counting
// from their arrival; a failed call fails every check in it; an unknown reply
// code is an error, never a status.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { type AccessTokenStatus, createTessera, parseSessionId, SigningKeySet, StoreUnavailable, type Tessera } from '@tessera/core'
import { redisStoreForTest } from '../../../../test/support/redis.js'
import { AccessCheckBatch, accessStatus } from '../access-check-batch.js'
import type { RedisArg, RedisConnection, SendOptions } from '../connection.js'
import { RedisSessionStore } from '../redis-session-store.js'

/** The store's own connection, counting the script calls that go through it. */
function counting(inner: RedisConnection): RedisConnection & { scriptCalls: string[][]; startedAt: (number | undefined)[] } {
  const scriptCalls: string[][] = []
  const startedAt: (number | undefined)[] = []
  return {
    isCluster: inner.isCluster,
    scriptCalls,
    startedAt,
    send(args: RedisArg[], options?: SendOptions) {
      if (String(args[0]).startsWith('EVALSHA')) {
        scriptCalls.push(args.map(String))
        startedAt.push(options?.startedAtMs)
      }
      return inner.send(args, options)
    },
    duplicate: () => inner.duplicate(),
    close: () => Promise.resolve(),
  }
}

describe('strict checks in one turn: one script call', () => {
  let made: Awaited<ReturnType<typeof redisStoreForTest>>
  let connection: ReturnType<typeof counting>
  let store: RedisSessionStore
  let tessera: Tessera

  before(async () => {
    made = await redisStoreForTest('access-batch')
    connection = counting(made.store.connection)
    store = new RedisSessionStore(connection, { keyPrefix: made.prefix })
    tessera = await createTessera({ store, keys: await SigningKeySet.generate({ alg: 'ES256' }), issuer: 'https://auth.test', audience: 'api', tokenKey: randomBytes(32) })
  })
  after(async () => made.cleanup())

  /** The store request for a session's current access token, as the verifier builds it. */
  async function requestFor(session: { sessionId: string; accessToken: string }) {
    const claims = await tessera.verifyAccessToken(session.accessToken, { mode: 'signature' })
    const parts = parseSessionId(session.sessionId)!
    return { userId: parts.userId, localId: parts.localId, sessionCreatedAtMs: parts.createdAtMs, tokenId: claims.tokenId, nowMs: Date.now() }
  }

  test('checks of every outcome, issued together, are answered by one EVALSHA_RO with the right status each', async () => {
    const active = await tessera.createSession({ userId: 'batch-active' })
    const ended = await tessera.createSession({ userId: 'batch-ended' })
    await tessera.revokeSession(ended.sessionId)
    const denied = await tessera.createSession({ userId: 'batch-denied' })
    await tessera.denyAccessToken(denied.accessToken)
    const revoked = await tessera.createSession({ userId: 'batch-revoked' })
    await tessera.revokeAllSessions('batch-revoked')
    const requests = await Promise.all([active, ended, denied, revoked].map(requestFor))
    const expected: AccessTokenStatus[] = ['active', 'session_ended', 'token_denied', 'user_revoked']

    const before = connection.scriptCalls.length
    // Twice each, in an order that mixes them, all in one synchronous run.
    const order = [0, 1, 2, 3, 3, 2, 1, 0]
    const statuses = await Promise.all(order.map((i) => store.checkAccessToken(requests[i]!)))
    assert.deepEqual(statuses, order.map((i) => expected[i]))
    const calls = connection.scriptCalls.slice(before)
    assert.equal(calls.length, 1, `script calls: ${calls.map((c) => c[0]).join(', ')}`)
    assert.equal(calls[0]![0], 'EVALSHA_RO')
    assert.equal(calls[0]![2], String(2 * order.length), 'two keys per check')
  })

  test("a batch's time limit counts from its oldest check's arrival: the connection is told when", async () => {
    const request = await requestFor(await tessera.createSession({ userId: 'batch-started' }))
    const before = connection.scriptCalls.length
    const arrived = Date.now()
    const statuses = await Promise.all([store.checkAccessToken(request), store.checkAccessToken(request)])
    assert.deepEqual(statuses, ['active', 'active'])
    const startedAt = connection.startedAt.slice(before)
    assert.equal(startedAt.length, 1)
    assert.ok(typeof startedAt[0] === 'number' && startedAt[0] >= arrived && startedAt[0] <= Date.now(), `startedAtMs ${startedAt[0]}`)
  })

  test('a lone check goes through the single-check script', async () => {
    const request = await requestFor(await tessera.createSession({ userId: 'batch-lone' }))
    const before = connection.scriptCalls.length
    assert.equal(await store.checkAccessToken(request), 'active')
    const calls = connection.scriptCalls.slice(before)
    assert.equal(calls.length, 1)
    assert.equal(calls[0]![2], '2', 'two keys: one check')
  })

  test('more checks than one call takes are split into calls of at most 64', async () => {
    const request = await requestFor(await tessera.createSession({ userId: 'batch-many' }))
    const before = connection.scriptCalls.length
    const statuses = await Promise.all(Array.from({ length: 150 }, () => store.checkAccessToken(request)))
    assert.ok(statuses.every((s) => s === 'active'))
    const keyCounts = connection.scriptCalls.slice(before).map((c) => Number(c[2]) / 2)
    assert.deepEqual(keyCounts, [64, 64, 22])
  })
})

describe('AccessCheckBatch replies', () => {
  const check = (batch: AccessCheckBatch) => batch.check(['u', 'd'], { localId: 'l', sessionCreatedAtMs: 1, nowMs: 2 })

  test("each check's ARGV is named: a lone check passes the record, a batch the checkAccessToken order per check", async () => {
    const calls: { name: string; keys: string[]; args: unknown }[] = []
    const batch = new AccessCheckBatch(
      async (name, keys, args) => {
        calls.push({ name, keys, args })
        return name === 'checkAccessTokens' ? { code: 1, payload: [1, -1], pending: [] } : { code: 1, payload: [], pending: [] }
      },
      { maxBatch: 64 },
    )
    assert.equal(await batch.check(['u1', 'd1'], { localId: 'lone', sessionCreatedAtMs: 11, nowMs: 12 }), 'active')
    assert.deepEqual(calls.shift(), { name: 'checkAccessToken', keys: ['u1', 'd1'], args: { localId: 'lone', sessionCreatedAtMs: 11, nowMs: 12 } })
    const both = await Promise.all([
      batch.check(['u2', 'd2'], { nowMs: 22, localId: 'first', sessionCreatedAtMs: 21 }),
      batch.check(['u3', 'd3'], { sessionCreatedAtMs: 31, nowMs: 32, localId: 'second' }),
    ])
    assert.deepEqual(both, ['active', 'session_ended'])
    assert.deepEqual(calls, [{ name: 'checkAccessTokens', keys: ['u2', 'd2', 'u3', 'd3'], args: ['first', '21', '22', 'second', '31', '32'] }])
  })

  test('a failed call fails every check in it, with its error', async () => {
    const down = new StoreUnavailable('down')
    const batch = new AccessCheckBatch(() => Promise.reject(down), { maxBatch: 64 })
    const results = await Promise.allSettled([check(batch), check(batch), check(batch)])
    assert.deepEqual(
      results.map((r) => r.status === 'rejected' && r.reason),
      [down, down, down],
    )
  })

  test('an unknown reply code is an error, never a status', async () => {
    assert.throws(() => accessStatus(-9), StoreUnavailable)
    assert.throws(() => accessStatus('1'), StoreUnavailable)
    const batch = new AccessCheckBatch(async () => ({ code: 1, payload: [1, 7], pending: [] }), { maxBatch: 64 })
    const [ok, odd] = await Promise.allSettled([check(batch), check(batch)])
    assert.deepEqual(ok, { status: 'fulfilled', value: 'active' })
    assert.equal(odd.status, 'rejected')
    assert.ok(odd.status === 'rejected' && odd.reason instanceof StoreUnavailable)
  })

  test('a lone check with an unknown reply code is rejected, not left hanging', async () => {
    const batch = new AccessCheckBatch(async () => ({ code: 5, payload: [], pending: [] }), { maxBatch: 64 })
    await assert.rejects(check(batch), StoreUnavailable)
  })

  test('a reply with fewer results than checks fails them all', async () => {
    const batch = new AccessCheckBatch(async () => ({ code: 1, payload: [1], pending: [] }), { maxBatch: 64 })
    const results = await Promise.allSettled([check(batch), check(batch)])
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailable))
  })

  test('checks that arrive while a batch is in flight wait for its reply, then go as one batch', async () => {
    const calls: { keys: string[]; startedAtMs: number; answer: () => void }[] = []
    const batch = new AccessCheckBatch(
      (_name, keys, _args, startedAtMs) =>
        new Promise((resolve) => calls.push({ keys, startedAtMs, answer: () => resolve({ code: 1, payload: keys.filter((_, i) => i % 2 === 0).map(() => 1), pending: [] }) })),
      { maxBatch: 64 },
    )
    const first = [check(batch), check(batch)]
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(calls.length, 1, 'the first two went at the end of their turn')
    const secondArrival = Date.now()
    const second = [check(batch), check(batch), check(batch)]
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(calls.length, 1, 'nothing more is sent while the first batch is out')
    // The queued checks wait a measurable time (a busy stall, not a timer) before their batch is sent.
    const until = Date.now() + 20
    while (Date.now() < until);
    calls[0]!.answer()
    assert.deepEqual(await Promise.all(first), ['active', 'active'])
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(calls.length, 2)
    assert.equal(calls[1]!.keys.length, 6, 'the three queued checks, as one call')
    assert.ok(calls[1]!.startedAtMs >= secondArrival && calls[1]!.startedAtMs < Date.now() - 19, 'its time limit counts from when they arrived, not from the send')
    calls[1]!.answer()
    assert.deepEqual(await Promise.all(second), ['active', 'active', 'active'])
  })

  test('checks queued behind a failed batch still go, as their own batch', async () => {
    const down = new StoreUnavailable('down')
    let calls = 0
    let fail: () => void = () => undefined
    const batch = new AccessCheckBatch(
      (_name, keys) => {
        calls++
        if (calls === 1) return new Promise((_, reject) => (fail = () => reject(down)))
        return Promise.resolve({ code: 1, payload: keys.filter((_, i) => i % 2 === 0).map(() => 1), pending: [] })
      },
      { maxBatch: 64 },
    )
    const first = check(batch)
    await new Promise((resolve) => setImmediate(resolve))
    const queued = [check(batch), check(batch)]
    fail()
    await assert.rejects(first, (err) => err === down)
    assert.deepEqual(await Promise.all(queued), ['active', 'active'])
    assert.equal(calls, 2)
  })

  test('maxBatch 1 (Cluster) sends each check alone, at once', async () => {
    const names: string[] = []
    const batch = new AccessCheckBatch(
      async (name) => {
        names.push(name)
        return { code: -1, payload: [], pending: [] }
      },
      { maxBatch: 1 },
    )
    assert.deepEqual(await Promise.all([check(batch), check(batch)]), ['session_ended', 'session_ended'])
    assert.deepEqual(names, ['checkAccessToken', 'checkAccessToken'])
  })
})
