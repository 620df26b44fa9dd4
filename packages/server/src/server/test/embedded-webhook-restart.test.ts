// The embedded default's webhook queue across restarts, as a user lives it: `tessera serve` without Redis,
// the receiver down. Deliveries queued and retrying when the server is stopped (SIGTERM) or killed (SIGKILL)
// are delivered by the next start once the receiver is back, each once.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { generateWebhookSecret } from '@tessera/core'
import { waitFor } from '../../../../../test/support/redis.js'
import { PASSWORD, uniqueEmail } from './helpers.js'
import { serve } from './serve-child.js'
import { WebhookReceiver } from './webhook-receiver.js'

void test('embedded: queued and retrying webhook deliveries survive a graceful stop and kill -9, and are delivered once when the receiver is back', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-webhook-restart-'))
  const receiver = new WebhookReceiver(generateWebhookSecret())
  await receiver.reservePortAndGoDown()
  const running: ReturnType<typeof serve>[] = []
  t.after(async () => {
    for (const server of running) {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL')
      await server.exited
    }
    await receiver.close()
    rmSync(dataDir, { recursive: true, force: true })
  })
  const start = async () => {
    const server = serve({
      PORT: '0',
      TESSERA_DATA_DIR: dataDir,
      TESSERA_HASHING_PROCESSES: '1',
      TESSERA_WEBHOOKS: JSON.stringify([{ id: 'siem', url: receiver.url, secret: receiver.secret }]),
    })
    running.push(server)
    return { server, url: await server.listening }
  }
  const post = (url: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  const login = async (url: string, email: string) => {
    const response = await post(url, '/auth/login', { email, password: PASSWORD })
    assert.equal(response.status, 200)
    return (await response.json()) as { access_token: string }
  }
  /** Message ids the server logged as failed attempts (the receiver is down: every attempt fails). */
  const failed = (server: ReturnType<typeof serve>) =>
    new Set(
      server
        .output()
        .stdout.split('\n')
        .filter((line) => line.includes('will retry'))
        .map((line) => (JSON.parse(line) as { messageId: string }).messageId),
    )
  const email = uniqueEmail('hooks')

  // 1. Receiver down: two sign-ins fail their first attempt and wait for their retry; then a graceful stop.
  const first = await start()
  assert.equal((await post(first.url, '/auth/register', { email, password: PASSWORD })).status, 202)
  await login(first.url, email)
  const signedOut = await login(first.url, email)
  await waitFor(() => failed(first.server).size >= 2, 30_000, 20)
  first.server.child.kill('SIGTERM')
  assert.equal(await first.server.exited, 0)

  // 2. Still down: the queue came back (the earlier deliveries are attempted again), a sign-out is queued, then kill -9.
  const second = await start()
  assert.equal((await post(second.url, '/auth/logout', undefined, { authorization: `Bearer ${signedOut.access_token}` })).status, 204)
  await waitFor(() => failed(second.server).size >= 3, 60_000, 20)
  const beforeKill = new Set([...failed(first.server), ...failed(second.server)])
  second.server.child.kill('SIGKILL')
  await second.server.exited

  // 3. Receiver back: everything queued before the stop and the kill is delivered.
  await receiver.listen()
  const third = await start()
  await waitFor(() => [...beforeKill].every((id) => receiver.acknowledged.has(id)), 60_000, 20)
  const types = [...receiver.events.values()].map((e) => e.type)
  assert.ok(types.filter((type) => type === 'session.signed_in').length >= 2, types.join())
  assert.ok(types.includes('session.revoked'), types.join())
  third.server.child.kill('SIGTERM')
  assert.equal(await third.server.exited, 0)

  // 4. Nothing acknowledged comes back after another restart: a new event is delivered, and each id was acknowledged once.
  const fourth = await start()
  const known = new Set(receiver.acknowledged.keys())
  await login(fourth.url, email)
  await waitFor(() => [...receiver.acknowledged.keys()].some((id) => !known.has(id)), 30_000, 20)
  for (const [id, count] of receiver.acknowledged) assert.equal(count, 1, `${id} was acknowledged ${count} times`)
  assert.equal(receiver.badSignatures, 0)
  fourth.server.child.kill('SIGTERM')
  assert.equal(await fourth.server.exited, 0)
})
