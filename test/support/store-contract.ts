// The contract every SessionStore meets, exercised through the engine. The
// memory store and the Redis store both run it unchanged
// (memory-store.test.ts, src/redis-store/test/redis-session-store.test.ts).
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { createTessera, manualClock, SigningKeySet, type AuthErrorCode, type AuthOptions, type SessionStore, type Tessera } from '@tessera/core'
import { signingKeyContract } from './signing-key-contract.js'

/** Something that makes a fresh store and cleans it up. */
export interface StoreFactory {
  name: string
  create(): Promise<{ store: SessionStore; cleanup(): Promise<void> }>
}

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

async function rejectsWith(promise: Promise<unknown>, code: AuthErrorCode): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.equal((err as { code?: string }).code, code)
    return true
  })
}

function newUser(): string {
  return `user-${randomUUID().slice(0, 8)}`
}

/** Registers the contract tests for one store. */
export function storeContract(factory: StoreFactory): void {
  describe(`SessionStore contract: ${factory.name}`, () => {
    let store: SessionStore
    let cleanup: () => Promise<void>
    let keys: SigningKeySet
    const clock = manualClock(Date.now())
    const tokenKey = 'contract-test-token-key-of-32-bytes!!'

    async function engine(options: AuthOptions = {}): Promise<Tessera> {
      // No heartbeats: they would wake the blocking reads these tests time (docs/revocation-log.md, "Heartbeats").
      return createTessera({ store, keys, clock, tokenKey, refreshGraceSeconds: 10, heartbeatIntervalMs: 0, ...options })
    }

    before(async () => {
      const made = await factory.create()
      store = made.store
      cleanup = () => made.cleanup()
      keys = await SigningKeySet.generate()
    })
    after(async () => {
      await cleanup()
    })

    signingKeyContract(() => store)

    describe('sessions', () => {
      test('creates a session whose tokens verify in strict mode and which lists with its device', async () => {
        const auth = await engine()
        const userId = newUser()
        const login = await auth.createSession({ userId, device: { userAgent: CHROME, ip: '203.0.113.9', name: 'Work laptop', deviceClass: 'desktop' } })
        const claims = await auth.verifyAccessToken(login.accessToken, { mode: 'strict' })
        assert.equal(claims.userId, userId)
        assert.equal(claims.sessionId, login.sessionId)
        const [listed, ...rest] = await auth.listSessions(userId)
        assert.equal(rest.length, 0)
        assert.equal(listed?.sessionId, login.sessionId)
        assert.deepEqual(listed?.device, { userAgent: CHROME, ip: '203.0.113.9', name: 'Work laptop', deviceClass: 'desktop' })
        assert.equal(listed?.createdAtMs, login.session.createdAtMs)
        assert.equal(listed?.generation, 1)
      })

      test('keeps IPv6 addresses and long user agents intact', async () => {
        const auth = await engine()
        const userId = newUser()
        const userAgent = `${CHROME} ${'x'.repeat(300)}`
        await auth.createSession({ userId, device: { userAgent, ip: '2001:db8::1' } })
        const [listed] = await auth.listSessions(userId)
        assert.equal(listed?.device.userAgent, userAgent)
        assert.equal(listed?.device.ip, '2001:db8::1')
      })

      test('revokes one session: its refresh token stops working and its access token fails strict verification', async () => {
        const auth = await engine()
        const userId = newUser()
        const a = await auth.createSession({ userId })
        const b = await auth.createSession({ userId })
        assert.equal(await auth.revokeSession(a.sessionId), true)
        assert.equal(await auth.revokeSession(a.sessionId), false)
        await rejectsWith(auth.verifyAccessToken(a.accessToken), 'ERR_SESSION_REVOKED')
        await rejectsWith(auth.refreshSession(a.refreshToken), 'ERR_SESSION_NOT_FOUND')
        await auth.verifyAccessToken(b.accessToken)
        // signature mode does not look at revocation state
        await auth.verifyAccessToken(a.accessToken, { mode: 'signature' })
      })

      test('revokes all sessions of a user at once, and a new sign-in right after works', async () => {
        const auth = await engine()
        const userId = newUser()
        const sessions = await Promise.all(Array.from({ length: 4 }, () => auth.createSession({ userId })))
        assert.equal(await auth.revokeAllSessions(userId), 4)
        for (const s of sessions) await rejectsWith(auth.verifyAccessToken(s.accessToken), 'ERR_ACCESS_TOKEN_REVOKED')
        assert.deepEqual(await auth.listSessions(userId), [])
        // same millisecond as the revocation: the new session must still be valid
        const fresh = await auth.createSession({ userId })
        await auth.verifyAccessToken(fresh.accessToken)
        assert.ok(fresh.session.createdAtMs > (await auth.getUserState(userId)).revokedBeforeMs!)
      })

      test('revokes all other sessions and keeps the current one', async () => {
        const auth = await engine()
        const userId = newUser()
        const keep = await auth.createSession({ userId })
        const other = await auth.createSession({ userId })
        assert.equal(await auth.revokeAllSessions(userId, { exceptSessionId: keep.sessionId }), 1)
        await auth.verifyAccessToken(keep.accessToken)
        await rejectsWith(auth.verifyAccessToken(other.accessToken), 'ERR_SESSION_REVOKED')
        assert.deepEqual((await auth.listSessions(userId)).map((s) => s.sessionId), [keep.sessionId])
      })

      test('denies one access token until it expires while its session stays alive', async () => {
        const auth = await engine()
        const userId = newUser()
        const login = await auth.createSession({ userId })
        await auth.denyAccessToken(login.accessToken)
        await rejectsWith(auth.verifyAccessToken(login.accessToken), 'ERR_ACCESS_TOKEN_REVOKED')
        const next = await auth.refreshSession(login.refreshToken)
        await auth.verifyAccessToken(next.accessToken)
      })

      test('20 concurrent sign-ins with a limit of 5 leave exactly 5 sessions', async () => {
        const auth = await engine({ maxSessions: 5 })
        const userId = newUser()
        const evicted: string[] = []
        auth.on('session_evicted', (e) => evicted.push(e.sessionId))
        const logins = await Promise.all(Array.from({ length: 20 }, () => auth.createSession({ userId })))
        const live = await auth.listSessions(userId)
        assert.equal(live.length, 5)
        assert.equal(evicted.length, 15)
        const liveIds = new Set(live.map((s) => s.sessionId))
        for (const login of logins) assert.equal(liveIds.has(login.sessionId), !evicted.includes(login.sessionId))
      })

      test('evict-oldest removes the oldest session and logs the eviction', async () => {
        const auth = await engine({ maxSessions: 2 })
        const userId = newUser()
        const first = await auth.createSession({ userId })
        clock.advance(1000)
        const second = await auth.createSession({ userId })
        clock.advance(1000)
        const info = await auth.revocationLogInfo()
        const third = await auth.createSession({ userId })
        assert.deepEqual(new Set((await auth.listSessions(userId)).map((s) => s.sessionId)), new Set([second.sessionId, third.sessionId]))
        await rejectsWith(auth.refreshSession(first.refreshToken), 'ERR_SESSION_NOT_FOUND')
        const { entries } = await auth.readRevocations(info.lastPosition)
        assert.deepEqual(
          entries.map((e) => e.event),
          // The latest expiry of the session's tokens: its last refresh + access-token lifetime (900 s) + grace (10 s).
          [{ kind: 'session', userId, localId: first.sessionId.split('.')[0], reason: 'evicted', expiresAtMs: first.session.lastSeenAtMs + 910_000 }],
        )
        assert.ok(entries[0]!.event.expiresAtMs! >= first.accessTokenExpiresAt * 1000)
      })

      test('the deny policy refuses a sign-in over the limit', async () => {
        const auth = await engine({ maxSessions: 2, sessionLimitPolicy: 'deny' })
        const userId = newUser()
        await auth.createSession({ userId })
        await auth.createSession({ userId })
        await rejectsWith(auth.createSession({ userId }), 'ERR_SESSION_LIMIT_REACHED')
        assert.equal((await auth.listSessions(userId)).length, 2)
      })

      test('a per-device-class limit evicts within the class only', async () => {
        const auth = await engine({ maxSessions: 5, deviceClassLimits: { mobile: 1 } })
        const userId = newUser()
        const desktop = await auth.createSession({ userId, device: { deviceClass: 'desktop' } })
        clock.advance(10)
        const phone1 = await auth.createSession({ userId, device: { deviceClass: 'mobile' } })
        clock.advance(10)
        const phone2 = await auth.createSession({ userId, device: { deviceClass: 'mobile' } })
        const live = new Set((await auth.listSessions(userId)).map((s) => s.sessionId))
        assert.deepEqual(live, new Set([desktop.sessionId, phone2.sessionId]))
        assert.equal(live.has(phone1.sessionId), false)
      })

      test('expired sessions do not count against the limit and are not listed', async () => {
        const auth = await engine({ maxSessions: 1, sessionLimitPolicy: 'deny', refreshIdleTtlSeconds: 60, refreshAbsoluteTtlSeconds: 3600 })
        const userId = newUser()
        await auth.createSession({ userId })
        clock.advance(61_000)
        assert.deepEqual(await auth.listSessions(userId), [])
        await auth.createSession({ userId })
      })
    })

    describe('refresh rotation', () => {
      test('rotates: the new pair works, the generation goes up, the access token is new', async () => {
        const auth = await engine()
        const login = await auth.createSession({ userId: newUser() })
        clock.advance(1000)
        const next = await auth.refreshSession(login.refreshToken)
        assert.equal(next.session.generation, 2)
        assert.equal(next.sessionId, login.sessionId)
        assert.notEqual(next.refreshToken, login.refreshToken)
        assert.notEqual(next.accessToken, login.accessToken)
        await auth.verifyAccessToken(next.accessToken)
        const third = await auth.refreshSession(next.refreshToken)
        assert.equal(third.session.generation, 3)
      })

      test('a retry with the previous token inside the grace window gets the same successor', async () => {
        const auth = await engine()
        const login = await auth.createSession({ userId: newUser() })
        const first = await auth.refreshSession(login.refreshToken)
        clock.advance(9_000)
        const retry = await auth.refreshSession(login.refreshToken)
        assert.equal(retry.refreshToken, first.refreshToken)
        assert.equal(retry.session.generation, 2)
        await auth.refreshSession(retry.refreshToken)
      })

      test('replay after the grace window revokes the session and its access tokens fail strict verification; the event names the session\'s own device', async () => {
        const auth = await engine()
        const userId = newUser()
        const reuse: unknown[] = []
        auth.on('refresh_reuse_detected', (e) => reuse.push(e))
        const device = { userAgent: 'Phone/1.0', ip: '192.0.2.7', name: 'My phone', deviceClass: 'default' }
        const login = await auth.createSession({ userId, device })
        const info = await auth.revocationLogInfo()
        const next = await auth.refreshSession(login.refreshToken)
        clock.advance(10_001)
        await rejectsWith(auth.refreshSession(login.refreshToken), 'ERR_REFRESH_TOKEN_REUSED')
        assert.deepEqual(reuse, [{ userId, sessionId: login.sessionId, generation: 1, device }])
        await rejectsWith(auth.verifyAccessToken(next.accessToken), 'ERR_SESSION_REVOKED')
        await rejectsWith(auth.refreshSession(next.refreshToken), 'ERR_SESSION_NOT_FOUND')
        const { entries } = await auth.readRevocations(info.lastPosition)
        assert.equal(entries.length, 1)
        assert.deepEqual(entries[0]?.event, {
          kind: 'session',
          userId,
          localId: login.sessionId.split('.')[0],
          reason: 'refresh_reuse_detected',
          expiresAtMs: next.session.lastSeenAtMs + 910_000,
        })
      })

      test('a token two generations old is reuse even inside the grace window', async () => {
        const auth = await engine()
        const login = await auth.createSession({ userId: newUser() })
        const second = await auth.refreshSession(login.refreshToken)
        await auth.refreshSession(second.refreshToken)
        await rejectsWith(auth.refreshSession(login.refreshToken), 'ERR_REFRESH_TOKEN_REUSED')
      })

      test('50 concurrent refreshes with one token end on one lineage with no theft event', async () => {
        const auth = await engine()
        const reuse: unknown[] = []
        auth.on('refresh_reuse_detected', (e) => reuse.push(e))
        const login = await auth.createSession({ userId: newUser() })
        const results = await Promise.all(Array.from({ length: 50 }, () => auth.refreshSession(login.refreshToken)))
        assert.equal(new Set(results.map((r) => r.refreshToken)).size, 1)
        assert.ok(results.every((r) => r.session.generation === 2))
        assert.deepEqual(reuse, [])
        const next = await auth.refreshSession(results[0]!.refreshToken)
        assert.equal(next.session.generation, 3)
        await auth.verifyAccessToken(next.accessToken)
      })

      test('idle timeout slides on refresh, and an idle session expires', async () => {
        const auth = await engine({ refreshIdleTtlSeconds: 100, refreshAbsoluteTtlSeconds: 1000 })
        const login = await auth.createSession({ userId: newUser() })
        clock.advance(90_000)
        const next = await auth.refreshSession(login.refreshToken)
        assert.equal(next.session.idleExpiresAtMs, clock.nowMs() + 100_000)
        clock.advance(90_000)
        const again = await auth.refreshSession(next.refreshToken)
        clock.advance(100_001)
        await rejectsWith(auth.refreshSession(again.refreshToken), 'ERR_REFRESH_TOKEN_EXPIRED')
      })

      test('the absolute lifetime never moves, however often the session refreshes', async () => {
        const auth = await engine({ refreshIdleTtlSeconds: 100, refreshAbsoluteTtlSeconds: 250 })
        const login = await auth.createSession({ userId: newUser() })
        const absolute = login.session.absoluteExpiresAtMs
        let token = login.refreshToken
        for (let i = 0; i < 2; i++) {
          clock.advance(90_000)
          const next = await auth.refreshSession(token)
          assert.equal(next.session.absoluteExpiresAtMs, absolute)
          assert.ok(next.session.idleExpiresAtMs <= absolute)
          token = next.refreshToken
        }
        clock.advance(70_001)
        await rejectsWith(auth.refreshSession(token), 'ERR_REFRESH_TOKEN_EXPIRED')
      })

      test('refuses malformed, tampered and foreign refresh tokens without touching the session', async () => {
        const auth = await engine()
        const login = await auth.createSession({ userId: newUser() })
        const parts = login.refreshToken.split('.')
        const tampered = [...parts.slice(0, 3), '7', ...parts.slice(4)].join('.')
        for (const bad of ['', 'nonsense', login.refreshToken + 'x', tampered, `${'a'.repeat(500)}`]) {
          await rejectsWith(auth.refreshSession(bad), 'ERR_REFRESH_TOKEN_INVALID')
        }
        const other = await createTessera({ store, keys, clock, tokenKey: 'another-token-key-with-32-bytes-or-more' })
        await rejectsWith(other.refreshSession(login.refreshToken), 'ERR_REFRESH_TOKEN_INVALID')
        await auth.refreshSession(login.refreshToken)
      })
    })

    describe('bans', () => {
      test('a permanent ban revokes every session and blocks sign-in until unbanned', async () => {
        const auth = await engine()
        const userId = newUser()
        const login = await auth.createSession({ userId })
        assert.equal(await auth.banUser(userId, { reason: 'abuse' }), 1)
        await rejectsWith(auth.verifyAccessToken(login.accessToken), 'ERR_ACCESS_TOKEN_REVOKED')
        await rejectsWith(auth.createSession({ userId }), 'ERR_USER_BANNED')
        assert.deepEqual(await auth.getUserState(userId), { banned: true, bannedUntilMs: null, banReason: 'abuse', revokedBeforeMs: clock.nowMs() })
        assert.equal(await auth.unbanUser(userId), true)
        assert.equal(await auth.unbanUser(userId), false)
        clock.advance(1)
        const after = await auth.createSession({ userId })
        await auth.verifyAccessToken(after.accessToken)
      })

      test('a temporary ban ends by itself', async () => {
        const auth = await engine()
        const userId = newUser()
        await auth.banUser(userId, { until: clock.nowMs() + 60_000 })
        await assert.rejects(auth.createSession({ userId }), (err: { code: string; until: number }) => err.code === 'ERR_USER_BANNED' && err.until === clock.nowMs() + 60_000)
        clock.advance(60_001)
        assert.equal((await auth.getUserState(userId)).banned, false)
        await auth.createSession({ userId })
      })
    })

    describe('one-time tokens', () => {
      test('a token is consumed exactly once, even by concurrent attempts', async () => {
        const auth = await engine()
        const userId = newUser()
        const { token } = await auth.issueOneTimeToken(userId, 'password-reset', { data: 'a@example.com' })
        const results = await Promise.allSettled(Array.from({ length: 10 }, () => auth.consumeOneTimeToken(token, 'password-reset')))
        const ok = results.filter((r) => r.status === 'fulfilled')
        assert.equal(ok.length, 1)
        assert.deepEqual((ok[0] as PromiseFulfilledResult<unknown>).value, { userId, data: 'a@example.com' })
        await rejectsWith(auth.consumeOneTimeToken(token, 'password-reset'), 'ERR_ONE_TIME_TOKEN_INVALID')
      })

      test('refuses a token for another purpose, an expired token and a replaced token', async () => {
        const auth = await engine()
        const userId = newUser()
        const first = await auth.issueOneTimeToken(userId, 'email-verification', { ttlSeconds: 60 })
        await rejectsWith(auth.consumeOneTimeToken(first.token, 'password-reset'), 'ERR_ONE_TIME_TOKEN_INVALID')
        const second = await auth.issueOneTimeToken(userId, 'email-verification', { ttlSeconds: 60 })
        await rejectsWith(auth.consumeOneTimeToken(first.token, 'email-verification'), 'ERR_ONE_TIME_TOKEN_INVALID')
        clock.advance(60_001)
        await rejectsWith(auth.consumeOneTimeToken(second.token, 'email-verification'), 'ERR_ONE_TIME_TOKEN_INVALID')
      })

      test('a check says whether a token would be accepted, and uses nothing up: no consumption, no attempt counted', async () => {
        const auth = await engine({ oneTimeTokenMaxAttempts: 1 })
        const userId = newUser()
        const old = await auth.issueOneTimeToken(userId, 'password-reset', { ttlSeconds: 60 })
        const current = await auth.issueOneTimeToken(userId, 'password-reset', { ttlSeconds: 60 })
        // With one attempt allowed, a check that counted the superseded token as a guess would destroy the current one.
        assert.equal(await auth.checkOneTimeToken(old.token, 'password-reset'), false)
        assert.equal(await auth.checkOneTimeToken(current.token, 'email-verification'), false)
        assert.equal(await auth.checkOneTimeToken('tot1.forged', 'password-reset'), false)
        assert.equal(await auth.checkOneTimeToken(current.token, 'password-reset'), true)
        assert.equal(await auth.checkOneTimeToken(current.token, 'password-reset'), true)
        assert.equal((await auth.consumeOneTimeToken(current.token, 'password-reset')).userId, userId)
        assert.equal(await auth.checkOneTimeToken(current.token, 'password-reset'), false, 'used')
        const expiring = await auth.issueOneTimeToken(userId, 'password-reset', { ttlSeconds: 60 })
        clock.advance(60_001)
        assert.equal(await auth.checkOneTimeToken(expiring.token, 'password-reset'), false, 'expired')
      })

      test('a token is destroyed after too many wrong attempts', async () => {
        const auth = await engine({ oneTimeTokenMaxAttempts: 2 })
        const userId = newUser()
        const old = await auth.issueOneTimeToken(userId, 'password-reset')
        const current = await auth.issueOneTimeToken(userId, 'password-reset')
        // an authentic but superseded token is a wrong guess for the current one
        await rejectsWith(auth.consumeOneTimeToken(old.token, 'password-reset'), 'ERR_ONE_TIME_TOKEN_INVALID')
        await rejectsWith(auth.consumeOneTimeToken(old.token, 'password-reset'), 'ERR_ONE_TIME_TOKEN_INVALID')
        await rejectsWith(auth.consumeOneTimeToken(current.token, 'password-reset'), 'ERR_ONE_TIME_TOKEN_INVALID')
      })

      test('revoking ends the outstanding tokens of the purposes given, or all of them', async () => {
        const auth = await engine()
        const userId = newUser()
        const other = newUser()
        const reset = await auth.issueOneTimeToken(userId, 'password-reset')
        const verify = await auth.issueOneTimeToken(userId, 'email-verification')
        const othersReset = await auth.issueOneTimeToken(other, 'password-reset')
        assert.equal(await auth.revokeOneTimeTokens(userId, ['password-reset']), 1)
        await rejectsWith(auth.consumeOneTimeToken(reset.token, 'password-reset'), 'ERR_ONE_TIME_TOKEN_INVALID')
        assert.equal((await auth.consumeOneTimeToken(othersReset.token, 'password-reset')).userId, other)
        const again = await auth.issueOneTimeToken(userId, 'password-reset')
        assert.equal(await auth.revokeOneTimeTokens(userId), 2)
        await rejectsWith(auth.consumeOneTimeToken(verify.token, 'email-verification'), 'ERR_ONE_TIME_TOKEN_INVALID')
        await rejectsWith(auth.consumeOneTimeToken(again.token, 'password-reset'), 'ERR_ONE_TIME_TOKEN_INVALID')
        assert.equal(await auth.revokeOneTimeTokens(userId), 0)
        // a token issued after the revocation works
        const later = await auth.issueOneTimeToken(userId, 'password-reset')
        await auth.consumeOneTimeToken(later.token, 'password-reset')
      })

      test('a ban ends every outstanding one-time token of the user', async () => {
        const auth = await engine()
        const userId = newUser()
        const reset = await auth.issueOneTimeToken(userId, 'password-reset')
        const verify = await auth.issueOneTimeToken(userId, 'email-verification')
        await auth.banUser(userId)
        await auth.unbanUser(userId)
        await rejectsWith(auth.consumeOneTimeToken(reset.token, 'password-reset'), 'ERR_ONE_TIME_TOKEN_INVALID')
        await rejectsWith(auth.consumeOneTimeToken(verify.token, 'email-verification'), 'ERR_ONE_TIME_TOKEN_INVALID')
      })

      test('forged tokens are refused before they can burn attempts', async () => {
        const auth = await engine({ oneTimeTokenMaxAttempts: 1 })
        const userId = newUser()
        const { token } = await auth.issueOneTimeToken(userId, 'password-reset')
        const parts = token.split('.')
        const forged = [...parts.slice(0, 3), 'A'.repeat(43), parts[4]].join('.')
        await rejectsWith(auth.consumeOneTimeToken(forged, 'password-reset'), 'ERR_ONE_TIME_TOKEN_INVALID')
        await auth.consumeOneTimeToken(token, 'password-reset')
      })
    })

    describe('revocation log', () => {
      test('records every kind of revocation in order, readable from a position', async () => {
        const auth = await engine()
        const userId = newUser()
        const start = (await auth.revocationLogInfo()).lastPosition
        const a = await auth.createSession({ userId })
        const b = await auth.createSession({ userId })
        await auth.denyAccessToken(b.accessToken)
        await auth.revokeSession(a.sessionId, { reason: 'logout' })
        await auth.revokeAllSessions(userId)
        await auth.banUser(userId)
        const { entries, gap } = await auth.readRevocations(start)
        assert.equal(gap, false)
        const mine = entries.filter((e) => e.event.userId === userId)
        assert.deepEqual(
          mine.map((e) => [e.event.kind, 'reason' in e.event ? e.event.reason : null]),
          [
            ['token', null],
            ['session', 'logout'],
            ['user', 'revoked'],
            ['user', 'banned'],
          ],
        )
        const positions = mine.map((e) => e.position)
        const { entries: tail } = await auth.readRevocations(positions[1]!)
        assert.deepEqual(
          tail.filter((e) => e.event.userId === userId).map((e) => e.position),
          positions.slice(2),
        )
      })

      test('a blocking read wakes up when a revocation is appended', async () => {
        const auth = await engine()
        const userId = newUser()
        const login = await auth.createSession({ userId })
        const { lastPosition } = await auth.revocationLogInfo()
        const read = auth.readRevocations(lastPosition, { blockMs: 5000 })
        const started = Date.now()
        await auth.revokeSession(login.sessionId)
        const { entries } = await read
        assert.ok(Date.now() - started < 4000)
        assert.equal(entries.find((e) => e.event.userId === userId)?.event.kind, 'session')
      })
    })
  })
}
