// PostgreSQL cut off (through a TCP proxy; the shared server is never
// stopped) while logins run: 503 within 1 s, no crash, sessions already
// issued keep working, and login works again within 2 s of the link returning.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SHARED_DATABASE_URL } from '../../support/postgres.js'
import { SHARED_REDIS_URL } from '../../support/redis.js'
import { startTcpProxy } from '../../support/tcp-proxy.js'
import { bearer, createDeployment, registerAndLogin, startInstance } from '../harness.js'
import { ofFace, startProbes, summarise, tooSlow, workingAgainAt } from '../probes.js'

void test('PostgreSQL cut off under login load: 503 within 1 s, sessions keep working, login back within 2 s', async (t) => {
  const database = new URL(SHARED_DATABASE_URL)
  const proxy = await startTcpProxy({ host: database.hostname, port: Number(database.port || 5432) })
  t.after(() => proxy.close())
  const deployment = await createDeployment({ redisUrl: SHARED_REDIS_URL, databaseUrl: proxy.through(SHARED_DATABASE_URL) })
  t.after(() => deployment.drop())
  const server = await startInstance(deployment)
  t.after(() => server.close())
  const user = await registerAndLogin(server.app)
  // Another user logs in repeatedly: logins at the session limit evict the oldest session of their user.
  const holder = await registerAndLogin(server.app)
  const app = server.app
  const run = startProbes({
    login: async () => (await app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password: user.password } })).statusCode,
    // Sessions live in Redis: an issued access token needs no database.
    sessions: async () => (await app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(holder.tokens.access_token) })).statusCode,
  })
  while (!run.samples.some((s) => s.face === 'login' && s.status === 200)) await new Promise((resolve) => setTimeout(resolve, 20))
  const cutAt = performance.now()
  proxy.cut()
  await new Promise((resolve) => setTimeout(resolve, 2000))
  proxy.restore()
  const restoredAt = performance.now()
  await new Promise((resolve) => setTimeout(resolve, 2500))
  const samples = await run.stop()
  const logins = ofFace(samples, 'login')
  const report = JSON.stringify(summarise(samples))
  // What depends on the database answers within 1 s; a login that read its user before the cut still hashes (probes.ts).
  assert.ok(!samples.some((s) => tooSlow(s, 1000)), `an answer took too long: ${report}`)
  assert.ok(samples.every((s) => [200, 503].includes(s.status)), report)
  const firstUnavailable = logins.find((s) => s.startMs >= cutAt && s.status === 503)
  assert.ok(firstUnavailable && firstUnavailable.endMs - cutAt <= 1000, `login 503 came ${firstUnavailable ? Math.round(firstUnavailable.endMs - cutAt) : 'never'} ms after the cut`)
  assert.ok(!logins.some((s) => s.startMs > cutAt + 50 && s.endMs < restoredAt && s.status === 200), 'a login succeeded without the database')
  assert.ok(ofFace(samples, 'sessions').every((s) => s.status === 200), 'an issued session stopped working')
  const back = logins.find((s) => s.startMs >= restoredAt && s.status === 200)
  assert.ok(back && workingAgainAt(back) - restoredAt <= 2000, `login back ${back ? Math.round(workingAgainAt(back) - restoredAt) : 'never'} ms after the link returned`)
  console.log(`postgres cut: first login 503 after ${Math.round(firstUnavailable.endMs - cutAt)} ms; login back ${Math.round(workingAgainAt(back) - restoredAt)} ms after restore; ${report}`)
})
