import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { generateWebhookSecret, MemoryDeliveryQueue } from '@tessera/core'
import { waitFor } from '../../../../../test/support/redis.js'
import { resolveWebhookEndpoints } from '../webhooks/endpoints.js'
import { MemoryMailer, PASSWORD, bearer, signUp, testSchema, testServer, uniqueEmail, type TestServer } from './helpers.js'
import { WebhookReceiver } from './webhook-receiver.js'

const ADMIN = 'admin-token-of-the-webhook-test-000000'

describe('security webhooks and mails on one instance (memory store)', () => {
  let schema: Awaited<ReturnType<typeof testSchema>>
  before(async () => {
    schema = await testSchema()
  })
  after(async () => schema.drop())

  test('a delivery that keeps failing is dead-lettered after the attempt bound, counted and listed for admins', async () => {
    const broken = new WebhookReceiver(generateWebhookSecret(), () => 'fail')
    await broken.listen()
    const server: TestServer = await testServer({
      schema: schema.schema,
      app: {
        adminToken: ADMIN,
        metricsAccess: 'public',
        webhooks: {
          queue: new MemoryDeliveryQueue(),
          endpoints: resolveWebhookEndpoints([{ id: 'broken', url: broken.url, secret: broken.secret, events: ['user.banned'] }]),
          delivery: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20, requestTimeoutMs: 500, leaseMs: 2000, pollMs: 10 },
        },
      },
    })
    try {
      await server.app.ready()
      await server.auth.banUser('u-dead', { reason: 'test' })
      const admin = { authorization: `Bearer ${ADMIN}` }
      const list = async () => (await server.app.inject({ method: 'GET', url: '/admin/webhooks/dead-letters', headers: admin })).json<{ dead_letters: { endpoint: string; attempts: number; error: string; payload: string }[] }>()
      await waitFor(async () => (await list()).dead_letters.length === 1, 20_000, 10)
      const [dead] = (await list()).dead_letters
      assert.equal(dead?.endpoint, 'broken')
      assert.equal(dead?.attempts, 3)
      assert.equal(dead?.error, 'HTTP 500')
      assert.equal(JSON.parse(dead.payload).type, 'user.banned')
      assert.equal(broken.attempts.size, 1)
      assert.equal([...broken.attempts.values()][0], 3)
      const metrics = (await server.app.inject({ method: 'GET', url: '/metrics' })).body
      assert.match(metrics, /tessera_webhook_deliveries_total\{endpoint="broken",outcome="dead"\} 1/)
      assert.match(metrics, /tessera_webhook_deliveries_total\{endpoint="broken",outcome="retry"\} 2/)
      assert.equal((await server.app.inject({ method: 'GET', url: '/admin/webhooks/dead-letters' })).statusCode, 401)
    } finally {
      await server.close()
      await broken.close()
    }
  })

  test('a session ended by the session limit and a password reset are delivered too (session.revoked "evicted", user.password_changed "reset")', async () => {
    const receiver = new WebhookReceiver(generateWebhookSecret())
    await receiver.listen()
    const mailer = new MemoryMailer()
    const server = await testServer({
      schema: schema.schema,
      mailer,
      auth: { maxSessions: 1 },
      app: {
        webhooks: {
          queue: new MemoryDeliveryQueue(),
          endpoints: resolveWebhookEndpoints([{ id: 'r', url: receiver.url, secret: receiver.secret, events: ['session.revoked', 'user.password_changed'] }]),
          delivery: { baseDelayMs: 5, maxDelayMs: 20, requestTimeoutMs: 2000, leaseMs: 5000, pollMs: 10 },
        },
      },
    })
    try {
      await server.app.ready()
      const { email, tokens } = await signUp(server.app)
      // A second sign-in with a limit of one ends the first session: the user must hear of it like any revocation.
      assert.equal((await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD } })).statusCode, 200)
      await waitFor(() => [...receiver.events.values()].some((e) => e.type === 'session.revoked'), 10_000, 10)
      const revoked = [...receiver.events.values()].find((e) => e.type === 'session.revoked')!
      assert.equal(revoked.data.sessionId, tokens.session_id)
      assert.equal(revoked.data.reason, 'evicted')
      assert.equal((await server.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { email } })).statusCode, 202)
      await waitFor(() => mailer.sent.length >= 1, 10_000, 10)
      const token = /reset_token=([A-Za-z0-9._-]+)/.exec(mailer.sent[0]!.text)?.[1]
      assert.ok(token, 'a reset link was mailed')
      const confirm = await server.app.inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token, new_password: 'a brand new passphrase' } })
      assert.equal(confirm.statusCode, 204)
      await waitFor(() => [...receiver.events.values()].some((e) => e.type === 'user.password_changed'), 10_000, 10)
      assert.equal([...receiver.events.values()].find((e) => e.type === 'user.password_changed')?.data.how, 'reset')
      assert.equal(receiver.badSignatures, 0)
    } finally {
      await server.close()
      await receiver.close()
    }
  })

  test('mails the user on a sign-in from a new device and on a password change, with the device, the time and the account link', async () => {
    const mailer = new MemoryMailer()
    const server = await testServer({ schema: schema.schema, mailer, app: { securityMail: { newDevice: true, passwordChanged: true }, backgroundDelayMs: [0, 1] } })
    try {
      const email = uniqueEmail('mail')
      const { tokens } = await signUp(server.app, email, PASSWORD, { 'user-agent': 'Phone/1.0' })
      // The first sign-in after registering and a second sign-in from the same device send nothing.
      await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD }, headers: { 'user-agent': 'Phone/1.0' } })
      const laptop = await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password: PASSWORD, device_name: 'Work laptop' }, headers: { 'user-agent': 'Laptop/2.0' } })
      assert.equal(laptop.statusCode, 200)
      await waitFor(() => mailer.sent.length >= 1, 10_000, 10)
      const changed = await server.app.inject({
        method: 'POST',
        url: '/auth/password',
        payload: { current_password: PASSWORD, new_password: `${PASSWORD} 2` },
        headers: { ...bearer(tokens.access_token), 'user-agent': 'Phone/1.0\u001b[2J' },
      })
      assert.equal(changed.statusCode, 204)
      await waitFor(() => mailer.sent.length >= 2, 10_000, 10)
      await (server.app as unknown as { backgroundSettled(): Promise<void> }).backgroundSettled()
      assert.equal(mailer.sent.length, 2)
      const [device, password] = mailer.sent as [(typeof mailer.sent)[0], (typeof mailer.sent)[0]]
      assert.equal(device.to, email)
      assert.equal(device.subject, 'New sign-in to your account')
      assert.match(device.text, /"Work laptop", Laptop\/2\.0, from 127\.0\.0\.1/)
      assert.match(device.text, /at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/)
      assert.match(device.text, /http:\/\/auth\.test\/account/)
      assert.equal(password.subject, 'Your password was changed')
      // The device that changed it (user agent cleaned of terminal escapes) and when, as the new-device mail prints them.
      assert.match(password.text, /was changed from this device:\n\n {2}Phone\/1\.0, from 127\.0\.0\.1\n {2}at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n/)
      assert.match(password.text, /http:\/\/auth\.test\/account/)
      for (const mail of mailer.sent) assert.ok(!mail.text.includes(tokens.access_token) && !mail.text.includes(PASSWORD))
    } finally {
      await server.close()
    }
  })

  test('endpoints must be https (http only to loopback), with a whsec_ secret and known event types', () => {
    const secret = generateWebhookSecret()
    assert.equal(resolveWebhookEndpoints([{ id: 'a', url: 'https://hooks.example/x', secret }])[0]?.events.size, 7)
    assert.equal(resolveWebhookEndpoints([{ id: 'a', url: 'http://127.0.0.1:9/x', secret }]).length, 1)
    assert.equal(resolveWebhookEndpoints([{ id: 'a', url: 'http://[::1]:9/x', secret }]).length, 1)
    for (const bad of [
      [{ id: 'a', url: 'http://hooks.example/x', secret }],
      [{ id: 'a', url: 'http://10.0.0.1/x', secret }],
      [{ id: 'a', url: 'https://user:pw@hooks.example/x', secret }],
      [{ id: 'a', url: 'https://hooks.example/x', secret: 'plain' }],
      [{ id: 'a', url: 'https://hooks.example/x', secret, events: ['user.deleted'] }],
      [{ id: 'a', url: 'https://hooks.example/x', secret }, { id: 'a', url: 'https://hooks.example/y', secret }],
      [{ id: 'bad id', url: 'https://hooks.example/x', secret }],
      { id: 'a' },
    ]) {
      assert.throws(() => resolveWebhookEndpoints(bad), TypeError, JSON.stringify(bad))
    }
  })
})
