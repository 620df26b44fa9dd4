import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { createTessera, generateWebhookSecret, SigningKeySet, systemClock, type Tessera } from '@tessera/core'
import { RedisDeliveryQueue, RedisSessionStore } from '@tessera/redis'
import { SHARED_REDIS_URL, deleteKeys, uniquePrefix, waitFor } from '../../../../../test/support/redis.js'
import { openPostgresUserStore } from '../../users/postgres.js'
import type { UserStore } from '../../users/user-store.js'
import { buildApp } from '../app.js'
import { WebhookDeliverer, type WebhookDeliveryOptions } from '../webhooks/deliverer.js'
import { resolveWebhookEndpoints, type WebhookEndpoint } from '../webhooks/endpoints.js'
import { KeyNames } from '../../../../redis/src/key-names.js'
import { DATABASE_URL, FIXTURE_CONNECT_TIMEOUT_MS, MemoryMailer, PASSWORD, bearer, testSchema, uniqueEmail, userIdOf } from './helpers.js'
import { WebhookReceiver } from './webhook-receiver.js'

// Fast retries, a short lease: the same code paths as production settings, in seconds instead of hours. The
// timeout still leaves a busy machine time to answer: a healthy receiver whose answer came too late would
// (rightly) be sent the event again.
const FAST: Partial<WebhookDeliveryOptions> = { baseDelayMs: 20, maxDelayMs: 200, requestTimeoutMs: 2500, leaseMs: 6000, pollMs: 20, maxAttempts: 60 }
const ADMIN = 'admin-token-of-the-webhook-test-000000'
const LIMITS = {
  loginPerIp: { max: 10_000, windowSeconds: 60 },
  loginPerAccount: { max: 100, windowSeconds: 60 },
  refreshPerIp: { max: 10_000, windowSeconds: 60 },
  sensitivePerIp: { max: 10_000, windowSeconds: 60 },
}

interface Instance {
  app: FastifyInstance
  auth: Tessera
  close(): Promise<void>
}

describe('security webhooks across three server instances on one Redis', () => {
  const prefix = uniquePrefix('webhooks')
  let schema: Awaited<ReturnType<typeof testSchema>>
  let keys: SigningKeySet
  const tokenKey = randomBytes(32)
  const healthy = new WebhookReceiver(generateWebhookSecret())
  // Every message: first attempt 500, second attempt hangs past the timeout, third is acknowledged.
  const flaky = new WebhookReceiver(generateWebhookSecret(), (_id, attempt) => (attempt === 1 ? 'fail' : attempt === 2 ? 'hang' : 'ok'))
  const late = new WebhookReceiver(generateWebhookSecret())
  let endpoints: WebhookEndpoint[]

  async function instance(): Promise<Instance> {
    const store = await RedisSessionStore.connect({ url: SHARED_REDIS_URL, keyPrefix: prefix })
    const auth = await createTessera({ store, keys, tokenKey, issuer: 'https://auth.test', audience: 'api', refreshGraceSeconds: 0 })
    const users: UserStore = await openPostgresUserStore({ url: DATABASE_URL, schema: schema.schema, connectTimeoutMs: FIXTURE_CONNECT_TIMEOUT_MS })
    const queue = await RedisDeliveryQueue.open(store.connection, { keyPrefix: prefix, name: 'webhooks' })
    const app = await buildApp({ auth, users, mailer: new MemoryMailer(), webDir: null, publicUrl: 'http://auth.test', rateLimits: LIMITS, adminToken: ADMIN, webhooks: { queue, endpoints, delivery: FAST } })
    await app.ready()
    return {
      app,
      auth,
      async close() {
        await app.close()
        await users.close()
        await auth.close()
        await store.close()
      },
    }
  }

  before(async () => {
    schema = await testSchema()
    keys = await SigningKeySet.generate({ alg: 'ES256' })
    await healthy.listen()
    await flaky.listen()
    await late.reservePortAndGoDown()
    endpoints = resolveWebhookEndpoints([
      { id: 'healthy', url: healthy.url, secret: healthy.secret },
      { id: 'flaky', url: flaky.url, secret: flaky.secret },
      { id: 'late', url: late.url, secret: late.secret },
    ])
  })
  after(async () => {
    for (const r of [healthy, flaky, late]) await r.close()
    await deleteKeys(SHARED_REDIS_URL, prefix)
    await schema.drop()
  })

  test('every event reaches every endpoint, signed, despite failures, timeouts, a receiver down and an instance restart; none twice to a receiver that acknowledged', async () => {
    const fleet = [await instance(), await instance(), await instance()]
    try {
      const [a, b, c] = fleet as [Instance, Instance, Instance]
      const email = uniqueEmail('hooks')
      assert.equal((await a.app.inject({ method: 'POST', url: '/auth/register', payload: { email, password: PASSWORD } })).statusCode, 202)
      const login = async (app: FastifyInstance, agent: string) =>
        (await app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD }, headers: { 'user-agent': agent } })).json<{ access_token: string; refresh_token: string; session_id: string }>()
      const phone = await login(a.app, 'Phone/1.0')
      const userId = userIdOf(phone.access_token)
      const laptop = await login(b.app, 'Laptop/2.0')

      // Restart instance b while its events may still be queued or in flight.
      await b.close()
      fleet[1] = await instance()

      // The refresh token of the phone is used, then replayed (through c) from another device: reuse.
      assert.equal((await c.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: phone.refresh_token } })).statusCode, 200)
      const replay = await c.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: phone.refresh_token }, headers: { 'user-agent': 'Thief/6.6' } })
      assert.equal(replay.statusCode, 401)
      const changed = await a.app.inject({ method: 'POST', url: '/auth/password', payload: { current_password: PASSWORD, new_password: `${PASSWORD} 2` }, headers: { ...bearer(laptop.access_token), 'user-agent': 'Laptop/2.0' } })
      assert.equal(changed.statusCode, 204)
      const admin = { authorization: `Bearer ${ADMIN}` }
      assert.equal((await fleet[1].app.inject({ method: 'POST', url: `/admin/users/${userId}/ban`, payload: { reason: 'abuse' }, headers: admin })).statusCode, 200)
      assert.ok((await c.app.inject({ method: 'POST', url: `/admin/users/${userId}/unban`, headers: admin })).statusCode < 300)

      const expected = ['session.signed_in', 'session.signed_in', 'refresh_token.reuse_detected', 'session.revoked', 'user.sessions_revoked', 'user.password_changed', 'user.banned', 'user.unbanned'].sort()
      await waitFor(() => healthy.acknowledged.size >= expected.length && flaky.acknowledged.size >= expected.length, 60_000, 20)
      // The late receiver comes back after everything else was delivered (it refused connections until now).
      assert.equal(late.acknowledged.size, 0)
      await late.listen()
      await waitFor(() => late.acknowledged.size >= expected.length, 60_000, 20)

      for (const [name, receiver] of [['healthy', healthy], ['flaky', flaky], ['late', late]] as const) {
        assert.deepEqual([...receiver.events.values()].map((e) => e.type).sort(), expected, `${name}: each event once per endpoint, none lost`)
        assert.deepEqual([...receiver.acknowledged.values()].filter((n) => n !== 1), [], `${name}: no event twice after a 2xx`)
        assert.equal(receiver.badSignatures, 0, name)
      }
      assert.deepEqual([...healthy.events.keys()].sort(), [...flaky.events.keys()].sort(), 'one webhook-id per event, the same for every endpoint')
      assert.deepEqual([...healthy.attempts.values()].filter((n) => n !== 1), [], 'the healthy receiver got each event in one attempt')
      assert.ok([...flaky.attempts.values()].every((n) => n >= 3))

      const byType = (type: string) => [...healthy.events.values()].filter((e) => e.type === type).map((e) => e.data)
      const signedIn = byType('session.signed_in').find((d) => d.sessionId === laptop.session_id)
      assert.equal(signedIn?.newDevice, true)
      assert.equal((signedIn?.device as { userAgent: string }).userAgent, 'Laptop/2.0')
      const reuse = byType('refresh_token.reuse_detected')[0]
      assert.equal(reuse?.sessionId, phone.session_id)
      assert.deepEqual(reuse?.presentedBy, { ip: '127.0.0.1', userAgent: 'Thief/6.6' })
      // The session's own device, as stored at its sign-in (the script returns it as it revokes the session).
      assert.deepEqual(reuse?.device, { userAgent: 'Phone/1.0', ip: '127.0.0.1', name: '', deviceClass: 'default' })
      assert.equal(byType('session.revoked')[0]?.reason, 'refresh_reuse_detected')
      assert.equal(byType('user.sessions_revoked')[0]?.reason, 'password_changed')
      assert.equal(byType('user.password_changed')[0]?.how, 'changed')
      assert.deepEqual(byType('user.password_changed')[0]?.device, { ip: '127.0.0.1', userAgent: 'Laptop/2.0' })
      assert.equal(byType('user.banned')[0]?.reason, 'abuse')
      const everything = JSON.stringify([...healthy.events.values()])
      for (const secret of [email, PASSWORD, phone.refresh_token, phone.access_token, laptop.access_token]) assert.ok(!everything.includes(secret), 'no email, password or token in events')
    } finally {
      for (const member of fleet) await member.close()
    }
  })

  test('an item taken by an instance that died is delivered by another after the lease, once; the dead consumer then leaves the group', async () => {
    const store = await RedisSessionStore.connect({ url: SHARED_REDIS_URL, keyPrefix: prefix })
    const receiver = new WebhookReceiver(generateWebhookSecret())
    await receiver.listen()
    try {
      const queue = await RedisDeliveryQueue.open(store.connection, { keyPrefix: prefix, name: 'orphans' })
      const payload = (n: number) => JSON.stringify({ type: 'user.unbanned', timestamp: new Date().toISOString(), data: { userId: `u${n}` } })
      await queue.enqueue([1, 2, 3].map((n) => ({ messageId: `msg_orphan_${n}`, destination: 'r', payload: payload(n) })), Date.now())
      // A consumer takes two and dies without settling them.
      assert.equal((await queue.take('dead-instance', { count: 2, nowMs: Date.now(), leaseMs: 60_000 })).length, 2)
      const deliverer = new WebhookDeliverer({ queue, endpoints: resolveWebhookEndpoints([{ id: 'r', url: receiver.url, secret: receiver.secret }]), clock: systemClock, options: { ...FAST, requestTimeoutMs: 1000, leaseMs: 2000 } })
      deliverer.start()
      try {
        await waitFor(() => receiver.acknowledged.size === 1, 10_000, 10)
        await waitFor(() => receiver.acknowledged.size === 3, 30_000, 20)
        // Twice the lease without a read and nothing held: the dead instance's name is removed from the group.
        const { stream } = new KeyNames(prefix).deliveryQueue('orphans')
        const consumers = async () =>
          ((await store.connection.send(['XINFO', 'CONSUMERS', stream, 'deliverers'], { key: stream })) as unknown[][]).map((flat) => String(flat[flat.indexOf('name') + 1]))
        await waitFor(async () => !(await consumers()).includes('dead-instance'), 30_000, 50)
        assert.deepEqual(await consumers(), [deliverer.consumer])
      } finally {
        await deliverer.stop()
      }
      assert.deepEqual([...receiver.acknowledged.values()], [1, 1, 1])
      assert.equal(await queue.depth(), 0)
    } finally {
      await receiver.close()
      await store.close()
    }
  })
})
