// The whole token flow against one store, shared by the topology tests: a
// topology passes when Tessera behaves on it exactly as on standalone Redis.
import { strict as assert } from 'node:assert'
import { randomUUID } from 'node:crypto'
import { createTessera, SigningKeySet, type SessionStore } from '@tessera/core'

const TOKEN_KEY = 'topology-test-token-key-of-32-bytes!!'

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.equal((err as { code?: string }).code, code)
    return true
  })
}

/**
 * Sign-in, strict verification, refresh with reuse detection, revoke one,
 * revoke all, deny a token, ban and unban, one-time tokens, and the
 * revocation log (with a blocked reader) on `store`.
 */
export async function runWholeFlow(store: SessionStore): Promise<void> {
  const auth = await createTessera({ store, keys: await SigningKeySet.generate(), tokenKey: TOKEN_KEY, refreshGraceSeconds: 0 })
  const userId = `flow-${randomUUID().slice(0, 8)}`
  const { lastPosition } = await auth.revocationLogInfo()

  const first = await auth.createSession({ userId, device: { name: 'laptop' } })
  assert.equal((await auth.verifyAccessToken(first.accessToken, { mode: 'strict' })).userId, userId)
  const rotated = await auth.refreshSession(first.refreshToken)
  assert.equal(rotated.sessionId, first.sessionId)
  await auth.verifyAccessToken(rotated.accessToken, { mode: 'strict' })
  assert.equal((await auth.listSessions(userId)).length, 1)

  // Presenting the superseded token again is reuse: the whole session goes.
  await rejectsWith(auth.refreshSession(first.refreshToken), 'ERR_REFRESH_TOKEN_REUSED')
  await rejectsWith(auth.verifyAccessToken(rotated.accessToken, { mode: 'strict' }), 'ERR_SESSION_REVOKED')

  const second = await auth.createSession({ userId })
  const blocked = auth.readRevocations(lastPosition, { blockMs: 5000, count: 100 })
  await auth.denyAccessToken(second.accessToken)
  await rejectsWith(auth.verifyAccessToken(second.accessToken, { mode: 'strict' }), 'ERR_ACCESS_TOKEN_REVOKED')
  assert.ok((await blocked).entries.length >= 1)

  const third = await auth.refreshSession(second.refreshToken)
  assert.equal(await auth.revokeSession(third.sessionId), true)
  await rejectsWith(auth.refreshSession(third.refreshToken), 'ERR_SESSION_NOT_FOUND')

  const a = await auth.createSession({ userId })
  const b = await auth.createSession({ userId })
  assert.equal(await auth.revokeAllSessions(userId), 2)
  // Revoke-all is a user-wide cut-off, checked before the session itself.
  for (const s of [a, b]) await rejectsWith(auth.verifyAccessToken(s.accessToken, { mode: 'strict' }), 'ERR_ACCESS_TOKEN_REVOKED')

  await auth.banUser(userId, { reason: 'flow test' })
  await rejectsWith(auth.createSession({ userId }), 'ERR_USER_BANNED')
  assert.equal(await auth.unbanUser(userId), true)
  const after = await auth.createSession({ userId })
  await auth.verifyAccessToken(after.accessToken, { mode: 'strict' })

  const oneTime = await auth.issueOneTimeToken(userId, 'email', { data: 'x@example.com' })
  assert.deepEqual(await auth.consumeOneTimeToken(oneTime.token, 'email'), { userId, data: 'x@example.com' })
  await rejectsWith(auth.consumeOneTimeToken(oneTime.token, 'email'), 'ERR_ONE_TIME_TOKEN_INVALID')

  const log = await auth.readRevocations(lastPosition, { count: 1000 })
  assert.equal(log.gap, false)
  const kinds = new Set(log.entries.filter((e) => e.event.userId === userId).map((e) => e.event.kind))
  assert.ok(kinds.size >= 2, `log has ${[...kinds].join(',')}`)
}
