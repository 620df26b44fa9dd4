// OpenTelemetry spans through the SDK's in-memory exporter: what each flow records, which span is whose
// child, and that no attribute, event or status anywhere holds a token, password, secret, email or raw id.
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, test } from 'node:test'
import { context, SpanStatusCode, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { createTessera, generateWebhookSecret, MemoryDeliveryQueue, MemoryStore, SigningKeySet } from '@tessera/core'
import { RedisDeliveryQueue } from '@tessera/redis'
import { createVerifier } from '@tessera/verifier'
import { redisStoreForTest, waitFor } from '../../../../../test/support/redis.js'
import { resolveWebhookEndpoints } from '../webhooks/endpoints.js'
import { MemoryMailer, PASSWORD, bearer, signUp, testSchema, testServer, uniqueEmail, userIdOf, type TestServer } from './helpers.js'
import { WebhookReceiver } from './webhook-receiver.js'

const ADMIN = 'admin-token-of-the-telemetry-test-00000'
/** The test server's token key (helpers.ts): it signs refresh tokens and keys the user hash, so it must never reach a span. */
const TOKEN_KEY = 'server-test-token-key-of-32-bytes!!!'
const exporter = new InMemorySpanExporter()
// Registered once for the process, before anything makes a span: the packages' proxy tracers pick it up.
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())

const spans = (name?: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => name === undefined || s.name === name)
const one = (name: string): ReadableSpan => {
  const found = spans(name)
  assert.equal(found.length, 1, `one ${name} span, found ${found.length}: ${exporter.getFinishedSpans().map((s) => s.name).join(', ')}`)
  return found[0]!
}
const childrenOf = (parent: ReadableSpan): ReadableSpan[] => spans().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId)
const childNamed = (parent: ReadableSpan, name: string): ReadableSpan => {
  const found = childrenOf(parent).find((s) => s.name === name)
  assert.ok(found, `${parent.name} has a child ${name}; children: ${childrenOf(parent).map((s) => s.name).join(', ')}`)
  return found
}

/** Every string a span carries: name, attribute values, event names and attributes, status message. */
function textsOf(span: ReadableSpan): string[] {
  const values = [span.name, span.status.message ?? '', ...Object.entries(span.attributes).flatMap(([k, v]) => [k, String(v)])]
  for (const event of span.events) values.push(event.name, ...Object.entries(event.attributes ?? {}).flatMap(([k, v]) => [k, String(v)]))
  return values
}

/** Parts of tokens that are public by design: a one-time token names its purpose. */
const PUBLIC_PARTS = new Set(['password-reset'])

/** A secret and the pieces of it worth looking for: each dot-separated part and, when it is base64url, its decoded bytes. */
function piecesOf(secret: string): string[] {
  const pieces = new Set([secret])
  for (const part of secret.split('.')) {
    if (PUBLIC_PARTS.has(part)) continue
    if (part.length >= 8) pieces.add(part)
    if (part.length >= 12 && /^[A-Za-z0-9_-]+$/.test(part)) {
      const bytes = Buffer.from(part, 'base64url')
      pieces.add(bytes.toString('hex'))
      const text = bytes.toString('utf8')
      if (/^[\x20-\x7e]{8,}$/.test(text)) pieces.add(text)
    }
  }
  return [...pieces]
}

function assertNoSecret(secrets: readonly string[]): void {
  const pieces = secrets.flatMap(piecesOf)
  for (const span of spans()) {
    for (const text of textsOf(span)) {
      for (const piece of pieces) assert.ok(!text.includes(piece), `span ${span.name} carries a secret piece (${piece.slice(0, 6)}...) in ${JSON.stringify(text.slice(0, 80))}`)
    }
  }
}

describe('OpenTelemetry spans', () => {
  let schema: Awaited<ReturnType<typeof testSchema>>
  let server: TestServer
  // Webhooks on, so their secret is in use (signing every delivery) while spans are recorded.
  const receiver = new WebhookReceiver(generateWebhookSecret())
  before(async () => {
    schema = await testSchema()
    await receiver.listen()
    const webhooks = { queue: new MemoryDeliveryQueue(), endpoints: resolveWebhookEndpoints([{ id: 'siem', url: receiver.url, secret: receiver.secret }]), delivery: { pollMs: 10 } }
    server = await testServer({ schema: schema.schema, redis: true, auth: { refreshGraceSeconds: 0 }, app: { adminToken: ADMIN, webhooks } })
  })
  after(async () => {
    await server.close()
    await receiver.close()
    await schema.drop()
  })
  beforeEach(() => exporter.reset())

  test('a whole flow: register, sign-in, protected route, refresh, reuse, revoke, ban; parents, attributes, and no secret anywhere', async () => {
    const { app, auth } = server
    const email = uniqueEmail('otel')
    const { tokens } = await signUp(app, email, PASSWORD, { 'user-agent': 'Laptop/1.0' })
    const userId = userIdOf(tokens.access_token)
    const userHash = auth.userHash(userId)
    assert.match(userHash, /^[0-9a-f]{16}$/)

    // Sign-in: the password check and the session create are children of the sign-in span; the store script of the create.
    const register = one('tessera.register')
    assert.equal(register.attributes['tessera.outcome'], 'accepted')
    childNamed(register, 'tessera.password.hash')
    const signIn = one('tessera.sign_in')
    assert.equal(signIn.attributes['tessera.outcome'], 'success')
    assert.equal(signIn.attributes['tessera.user.hash'], userHash)
    assert.equal(childNamed(signIn, 'tessera.password.verify').attributes['tessera.outcome'], 'match')
    const create = childNamed(signIn, 'tessera.session.create')
    assert.equal(create.attributes['tessera.store.kind'], 'redis')
    assert.equal(create.attributes['tessera.user.hash'], userHash)
    assert.equal(create.attributes['tessera.session.dpop_bound'], false)
    const createScript = childNamed(create, 'EVALSHA createSession')
    assert.equal(createScript.attributes['db.system.name'], 'redis')
    assert.equal(createScript.attributes['db.operation.name'], 'EVALSHA')
    assert.equal(createScript.attributes['db.stored_procedure.name'], 'createSession')
    assert.equal(createScript.attributes['tessera.script.reply_code'], 1)

    // Failed sign-ins: a wrong password and an unknown email look the same in traces as in answers.
    exporter.reset()
    assert.equal((await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: `${PASSWORD}!` } })).statusCode, 401)
    assert.equal((await app.inject({ method: 'POST', url: '/auth/login', payload: { email: uniqueEmail('ghost'), password: PASSWORD } })).statusCode, 401)
    const failed = spans('tessera.sign_in')
    assert.equal(failed.length, 2)
    for (const span of failed) {
      assert.equal(span.status.code, SpanStatusCode.ERROR)
      assert.equal(span.attributes['error.type'], 'ERR_INVALID_CREDENTIALS')
      assert.equal(span.attributes['tessera.user.hash'], undefined)
      assert.equal(childNamed(span, 'tessera.password.verify').attributes['tessera.outcome'], 'mismatch')
    }

    // A protected route: the verifier's span, strict, with its store check as a child.
    exporter.reset()
    assert.equal((await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) })).statusCode, 200)
    const verify = one('tessera.verify')
    assert.equal(verify.attributes['tessera.verify.mode'], 'strict')
    assert.equal(verify.attributes['tessera.outcome'], 'valid')
    assert.equal(verify.attributes['tessera.verify.store_check'], true)
    assert.equal(verify.attributes['tessera.store.kind'], 'redis')
    assert.equal(childNamed(verify, 'EVALSHA_RO checkAccessToken').attributes['db.operation.name'], 'EVALSHA_RO')

    // Refresh over HTTP: the engine's span, and the rotation script as its child.
    exporter.reset()
    const refreshed = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } })
    assert.equal(refreshed.statusCode, 200)
    const next = refreshed.json<{ access_token: string; refresh_token: string }>()
    const refresh = one('tessera.refresh')
    assert.equal(refresh.attributes['tessera.outcome'], 'rotated')
    assert.equal(refresh.attributes['tessera.user.hash'], userHash)
    assert.equal(childNamed(refresh, 'EVALSHA rotateRefreshToken').attributes['tessera.script.reply_code'], 1)

    // Reuse: the rotated-away token again (no grace here) fails with the reuse code; the script says -3.
    exporter.reset()
    assert.equal((await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } })).statusCode, 401)
    const reuse = one('tessera.refresh')
    assert.equal(reuse.status.code, SpanStatusCode.ERROR)
    assert.equal(reuse.status.message, 'ERR_REFRESH_TOKEN_REUSED')
    assert.equal(reuse.attributes['error.type'], 'ERR_REFRESH_TOKEN_REUSED')
    assert.equal(childNamed(reuse, 'EVALSHA rotateRefreshToken').attributes['tessera.script.reply_code'], -3)

    // Revocations: one session, all sessions (with the count), a jti, a ban and its lifting.
    const second = await signUp(app, uniqueEmail('otel2'))
    const third = await app.inject({ method: 'POST', url: '/auth/login', payload: { email: second.email, password: PASSWORD } })
    const thirdTokens = third.json<{ access_token: string; refresh_token: string }>()
    exporter.reset()
    assert.equal((await app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(second.tokens.access_token) })).statusCode, 204)
    const revoke = one('tessera.session.revoke')
    assert.equal(revoke.attributes['tessera.revocation.reason'], 'logout')
    assert.equal(revoke.attributes['tessera.outcome'], 'revoked')
    childNamed(revoke, 'EVALSHA revokeSession')
    await auth.denyAccessToken(thirdTokens.access_token)
    assert.equal(one('tessera.access_token.deny').attributes['tessera.outcome'], 'denied')
    childNamed(one('tessera.access_token.deny'), 'EVALSHA denyToken')
    const fourth = await app.inject({ method: 'POST', url: '/auth/login', payload: { email: second.email, password: PASSWORD } })
    const fourthTokens = fourth.json<{ access_token: string; refresh_token: string }>()
    exporter.reset()
    assert.equal((await app.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(fourthTokens.access_token) })).statusCode, 204)
    const all = one('tessera.sessions.revoke_all')
    assert.equal(all.attributes['tessera.sessions.count'], 2)
    assert.equal(all.attributes['tessera.revocation.reason'], 'logout')
    childNamed(all, 'EVALSHA revokeAllSessions')
    const admin = { authorization: `Bearer ${ADMIN}` }
    assert.equal((await app.inject({ method: 'POST', url: `/admin/users/${encodeURIComponent(userId)}/ban`, headers: admin, payload: { reason: `abuse by ${email}` } })).statusCode, 200)
    const ban = one('tessera.user.ban')
    assert.equal(ban.attributes['tessera.outcome'], 'banned')
    assert.equal(typeof ban.attributes['tessera.sessions.count'], 'number')
    assert.equal((await app.inject({ method: 'POST', url: `/admin/users/${encodeURIComponent(userId)}/unban`, headers: admin })).statusCode, 200)
    assert.equal(one('tessera.user.unban').attributes['tessera.outcome'], 'unbanned')

    // Password reset by mail: the one-time token's issue and consume, and the reset flow span.
    const mailer = server.mailer as MemoryMailer
    mailer.sent.length = 0
    assert.equal((await app.inject({ method: 'POST', url: '/auth/password-reset', payload: { email: second.email } })).statusCode, 202)
    await waitFor(() => mailer.sent.length >= 1, 10_000, 10)
    const resetToken = /reset_token=([A-Za-z0-9._-]+)/.exec(mailer.sent[0]!.text)![1]!
    const newPassword = 'a brand new passphrase for otel'
    assert.equal((await app.inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token: resetToken, new_password: newPassword } })).statusCode, 204)
    assert.equal(one('tessera.one_time_token.issue').attributes['tessera.one_time_token.purpose'], 'password-reset')
    const reset = one('tessera.password.reset')
    assert.equal(reset.attributes['tessera.outcome'], 'reset')
    childNamed(reset, 'tessera.one_time_token.consume')
    childNamed(reset, 'tessera.sessions.revoke_all')

    // The grep: no span holds any secret of this flow, nor an email, nor a raw user, session or token id.
    const secretsOfFlow = [
      tokens.access_token, tokens.refresh_token, next.access_token, next.refresh_token,
      second.tokens.access_token, second.tokens.refresh_token, thirdTokens.access_token, thirdTokens.refresh_token, fourthTokens.access_token, fourthTokens.refresh_token,
      PASSWORD, `${PASSWORD}!`, newPassword, resetToken, email, second.email, userId, second.userId, tokens.session_id, second.tokens.session_id, ADMIN,
      // The webhook secret (and its key bytes) and the token key.
      receiver.secret, Buffer.from(receiver.secret.slice('whsec_'.length), 'base64').toString('hex'), TOKEN_KEY, Buffer.from(TOKEN_KEY).toString('hex'),
    ]
    // Raw ids inside the tokens (jti, sid) too.
    for (const t of [tokens.access_token, next.access_token]) {
      const claims = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string; sid: string }
      secretsOfFlow.push(claims.jti, claims.sid)
    }
    // Everything exported since the reset above, plus a full sign-in and refresh made now.
    const again = await signUp(app, uniqueEmail('otel3'))
    await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: again.tokens.refresh_token } })
    secretsOfFlow.push(again.email, again.tokens.access_token, again.tokens.refresh_token, again.userId)
    assert.ok(spans().length > 20)
    // Deliveries were signed with the secret while spans were recorded.
    await waitFor(() => receiver.acknowledged.size > 0, 10_000, 10)
    assertNoSecret(secretsOfFlow)
  })

  test('the verifier in every mode: signature, strict, cached (cache hits, revocations read from the log)', async () => {
    const o = server.auth.options
    const common = { keys: server.auth.keys, issuer: o.issuer, audience: o.audience, algorithms: server.auth.algorithms, store: server.auth.store }
    const { tokens } = await signUp(server.app, uniqueEmail('modes'))
    for (const mode of ['signature', 'strict'] as const) {
      const verifier = await createVerifier({ ...common, mode })
      exporter.reset()
      await verifier.verify(tokens.access_token)
      await verifier.verify(tokens.access_token)
      const [first, second] = spans('tessera.verify')
      assert.equal(first?.attributes['tessera.verify.mode'], mode)
      assert.equal(first?.attributes['tessera.verify.cache_hit'], false)
      assert.equal(second?.attributes['tessera.verify.cache_hit'], true)
      assert.equal(childrenOf(first).length, mode === 'strict' ? 1 : 0)
      await verifier.close()
    }
    const cached = await createVerifier({ ...common, mode: 'cached' })
    try {
      assert.equal(spans('tessera.revocation_log.load')[0]?.attributes['tessera.revocation_log.load_reason'], 'start')
      exporter.reset()
      await cached.verify(tokens.access_token)
      await cached.verify(tokens.access_token)
      const [miss, hit] = spans('tessera.verify')
      // The first verify checks the signature, the second finds the token in the verified-token cache.
      assert.equal(miss?.attributes['tessera.verify.mode'], 'cached')
      assert.equal(miss?.attributes['tessera.verify.cache_hit'], false)
      assert.equal(hit?.attributes['tessera.verify.mode'], 'cached')
      assert.equal(hit?.attributes['tessera.verify.cache_hit'], true)
      for (const span of [miss, hit]) {
        assert.equal(span?.attributes['tessera.verify.store_check'], undefined, 'decided from the set: no store call')
        assert.equal(childrenOf(span).length, 0)
      }
      await server.auth.revokeSession(tokens.session_id)
      // The follower's read that applied the revocation is a span of its own (a root: background work); idle reads make none.
      await waitFor(() => spans('tessera.revocation_log.read').some((s) => s.attributes['tessera.revocation_log.entries'] === 1), 10_000, 10)
      const read = spans('tessera.revocation_log.read').find((s) => s.attributes['tessera.revocation_log.entries'] === 1)!
      assert.equal(read.parentSpanContext, undefined)
      assert.equal(read.attributes['tessera.revocation_log.gap'], false)
      await waitFor(async () => {
        try {
          await cached.verify(tokens.access_token)
          return false
        } catch {
          return true
        }
      }, 10_000, 10)
      const refused = spans('tessera.verify').at(-1)!
      assert.equal(refused.attributes['error.type'], 'ERR_SESSION_REVOKED')
      assert.equal(refused.status.code, SpanStatusCode.ERROR)
    } finally {
      await cached.close()
    }
  })

  test('the one-time-token check, the signing-key reads and the webhook queue make client spans; the pollers\' reads make none', async () => {
    const { store, cleanup } = await redisStoreForTest('otel-queue')
    try {
      const dbSpan = (name: string, operation: string) => {
        const span = one(name)
        assert.equal(span.kind, 2, `${name} is a CLIENT span`)
        assert.equal(span.attributes['db.system.name'], 'redis')
        assert.equal(span.attributes['db.operation.name'], operation)
        return span
      }
      // The reset page's link check.
      const { token } = await server.auth.issueOneTimeToken('u-otel-check', 'password-reset')
      exporter.reset()
      assert.equal(await server.auth.checkOneTimeToken(token, 'password-reset'), true)
      dbSpan('HMGET one-time-tokens', 'HMGET')

      // The key set's version: a child span under a traced operation, nothing from a timer's poll (no parent).
      exporter.reset()
      await store.signingKeysVersion()
      assert.equal(spans('HGET signing-keys').length, 0)
      await trace.getTracer('test').startActiveSpan('caller', async (caller) => {
        await store.signingKeysVersion()
        await store.readSigningKeys()
        caller.end()
      })
      assert.equal(dbSpan('HGET signing-keys', 'HGET').parentSpanContext?.spanId, one('caller').spanContext().spanId)
      dbSpan('HMGET signing-keys', 'HMGET')

      // The webhook queue: its group at start, each queued delivery, depth and dead letters; the poll makes no span.
      exporter.reset()
      const queue = await RedisDeliveryQueue.open(store.connection, { keyPrefix: store.keyPrefix, name: 'webhooks' })
      dbSpan('XGROUP delivery-queue', 'XGROUP')
      await queue.enqueue([{ messageId: 'msg_otel', destination: 'siem', payload: '{"type":"user.banned"}' }], Date.now())
      dbSpan('XADD delivery-queue', 'XADD')
      exporter.reset()
      const [item] = await queue.take('otel', { count: 1, nowMs: Date.now(), leaseMs: 60_000 })
      assert.deepEqual(spans().map((s) => s.name), [], 'an idle or busy poll makes no span')
      await queue.deadLetter(item!, { nowMs: Date.now(), error: 'HTTP 500' })
      dbSpan('EVALSHA deadLetterDelivery', 'EVALSHA')
      assert.equal(await queue.depth(), 0)
      dbSpan('XLEN delivery-queue', 'XLEN')
      dbSpan('ZCARD delivery-queue-retries', 'ZCARD')
      assert.equal((await queue.deadLetters(10)).length, 1)
      dbSpan('XREVRANGE delivery-queue-dead', 'XREVRANGE')
      assertNoSecret([token, TOKEN_KEY, 'u-otel-check'])
    } finally {
      await cleanup()
    }
  })

  test('the memory store: engine spans say so, and there are no store client spans', async () => {
    const auth = await createTessera({ store: new MemoryStore(), keys: await SigningKeySet.generate(), issuer: 'https://auth.test', audience: 'api', heartbeatIntervalMs: 0 })
    try {
      exporter.reset()
      const login = await auth.createSession({ userId: 'u-memory' })
      await auth.verifyAccessToken(login.accessToken)
      await auth.revokeAllSessions('u-memory')
      const verify = one('tessera.verify')
      assert.equal(verify.attributes['tessera.store.kind'], 'memory')
      assert.equal(verify.attributes['tessera.verify.mode'], 'strict')
      assert.equal(one('tessera.sessions.revoke_all').attributes['tessera.sessions.count'], 1)
      assert.equal(spans().filter((s) => s.attributes['db.system.name'] !== undefined).length, 0)
      await assert.rejects(auth.verifyAccessToken(login.accessToken), { code: 'ERR_ACCESS_TOKEN_REVOKED' })
      assert.equal(spans('tessera.verify').at(-1)?.attributes['error.type'], 'ERR_ACCESS_TOKEN_REVOKED')
      assertNoSecret([login.accessToken, login.refreshToken, 'u-memory', login.sessionId])
    } finally {
      await auth.close()
    }
  })
})
