// docs/revocation-log.md says a follower in any language can follow the log
// from the page alone. revocation_log_follower.py is one, in Python with only
// its standard library (its own RESP client): here it follows a live log the
// engine writes, must read back every kind of entry with the fields the doc
// gives, and must decide tokens the way the doc's rules say.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createTessera, type SessionTokens, type Tessera } from '@tessera/core'
import { owned, type OwnedProcess } from '../support/owned-process.js'
import { redisStoreForTest, SHARED_REDIS_URL, waitFor } from '../support/redis.js'

const FOLLOWER = fileURLToPath(new URL('./revocation_log_follower.py', import.meta.url))
const ISSUER = 'https://auth.follower.test'
const TTL_SECONDS = 300
const TOLERANCE_SECONDS = 2
const GRACE_SECONDS = 10

type Event = Record<string, unknown> & { event: string }

let made: Awaited<ReturnType<typeof redisStoreForTest>>
let auth: Tessera
let follower: OwnedProcess
const events: Event[] = []
let stderr = ''

function claimsOf(tokens: SessionTokens): { sub: string; sid: string; jti: string; iat: number; exp: number } {
  return JSON.parse(Buffer.from(tokens.accessToken.split('.')[1]!, 'base64url').toString()) as { sub: string; sid: string; jti: string; iat: number; exp: number }
}

/**
 * `x` of an `s` or `u` entry bounds the `exp` of every token it revokes, one a refresh retried within the grace
 * window may still issue included: at or after the token's `exp`, at most the grace window (and the second `exp` is
 * rounded down by) later.
 */
function assertCovers(x: unknown, expSeconds: number): void {
  assert.equal(typeof x, 'number')
  assert.ok((x as number) >= expSeconds * 1000 && (x as number) <= (expSeconds + GRACE_SECONDS + 1) * 1000, `x ${String(x)} for a token with exp ${expSeconds}`)
}

async function next(predicate: (e: Event) => boolean, what: string): Promise<Event> {
  await waitFor(() => events.some(predicate), 15_000).catch(() => {
    throw new Error(`the Python follower never printed ${what}; it printed ${JSON.stringify(events)} ${stderr}`)
  })
  return events.find(predicate)!
}

before(async () => {
  made = await redisStoreForTest('log-follower')
  auth = await createTessera({
    store: made.store,
    tokenKey: 'log-follower-test-token-key-32-bytes!',
    issuer: ISSUER,
    audience: 'api',
    accessTokenTtlSeconds: TTL_SECONDS,
    clockToleranceSeconds: TOLERANCE_SECONDS,
    refreshGraceSeconds: GRACE_SECONDS,
  })
})

after(async () => {
  await follower?.stop()
  await auth?.close()
  await made?.cleanup()
})

test('a Python follower written from docs/revocation-log.md alone reads every entry the engine writes and decides tokens by the doc', async () => {
  // Written before the follower starts: it must find this one in its bootstrap read.
  const loggedOut = await auth.createSession({ userId: 'py-a' })
  await auth.revokeSession(loggedOut.sessionId, { reason: 'logout' })

  const child = spawn('python3', [FOLLOWER, SHARED_REDIS_URL, `${made.prefix}revocations`, ISSUER], { stdio: ['pipe', 'pipe', 'pipe'] })
  follower = owned(child)
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  createInterface({ input: child.stdout }).on('line', (line) => events.push(JSON.parse(line) as Event))
  await next((e) => e.event === 'ready', 'ready')

  // Written while it follows (XREAD BLOCK).
  const everywhere = await auth.createSession({ userId: 'py-b' })
  await auth.revokeAllSessions('py-b')
  const afterCutoff = await auth.createSession({ userId: 'py-b' })
  const denied = await auth.createSession({ userId: 'py-c' })
  await auth.denyAccessToken(denied.accessToken)
  const live = await auth.createSession({ userId: 'py-d' })

  const a = claimsOf(loggedOut)
  const session = await next((e) => e.event === 'entry' && e.kind === 'session', 'the session entry')
  assert.equal(session.user, 'py-a')
  assert.equal(session.local_id, a.sid.slice(0, 16))
  assert.equal(session.reason, 'logout')
  assertCovers(session.x, a.exp)
  assert.ok(Math.abs(Number(session.at_ms) - a.iat * 1000) < 60_000)

  const b = claimsOf(everywhere)
  const user = await next((e) => e.event === 'entry' && e.kind === 'user', 'the revoke-all entry')
  assert.equal(user.user, 'py-b')
  const createdMs = Buffer.from(b.sid.slice(0, 8), 'base64url').readUIntBE(0, 6)
  assert.ok(Number(user.cutoff_ms) >= createdMs, 'the cut-off covers the session it ended')
  assertCovers(user.x, b.exp)

  const d = claimsOf(denied)
  const token = await next((e) => e.event === 'entry' && e.kind === 'token', 'the denied-token entry')
  assert.equal(token.user, 'py-c')
  assert.equal(token.jti, d.jti)
  assert.equal(token.x, (d.exp + TOLERANCE_SECONDS) * 1000, 'x: the token\'s exp plus the issuer\'s tolerance, epoch ms')

  const heartbeat = await next((e) => e.event === 'heartbeat' && e.issuer === ISSUER, 'a heartbeat of the issuer')
  assert.deepEqual([heartbeat.ttl_s, heartbeat.tolerance_s, heartbeat.grace_s, heartbeat.version], [TTL_SECONDS, TOLERANCE_SECONDS, GRACE_SECONDS, 2])
  assert.deepEqual(events.filter((e) => e.event === 'skipped' || e.event === 'gap'), [])

  const cases: [string, SessionTokens, string][] = [
    ['logged-out session', loggedOut, 'revoked'],
    ['session ended by revoke-all', everywhere, 'revoked'],
    ['session made after the revoke-all', afterCutoff, 'live'],
    ['denied token', denied, 'revoked'],
    ['live session', live, 'live'],
  ]
  for (const [id, tokens] of cases) child.stdin.write(`${JSON.stringify({ id, ...claimsOf(tokens) })}\n`)
  for (const [id, , expected] of cases) {
    const decision = await next((e) => e.event === 'decision' && e.id === id, `a decision on the ${id}`)
    assert.equal(decision.decision, expected, id)
  }
})
