// TLS (server certificate, then client certificate too) and a Redis ACL user
// restricted to Tessera's key prefix: the whole flow runs under each.
import { strict as assert } from 'node:assert'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { startPrivateRedis, uniquePrefix, type PrivateRedis } from '../../../../../test/support/redis.js'
import { TESSERA_ACL_RULES, command, makeCertificates, startTlsRedis, type TestCertificates } from '../../../../../test/support/redis-topology.js'
import { RedisSessionStore, redisOptionsFromEnv } from '../../index.js'
import { runWholeFlow } from './flow.js'

void describe('TLS', () => {
  let certificates: TestCertificates
  before(async () => {
    certificates = await makeCertificates()
  })
  after(() => certificates?.remove())

  void test('runs the whole flow over TLS, and refuses a server it cannot verify', async (t) => {
    const server = await startTlsRedis(certificates)
    t.after(() => server.stop())
    await assert.rejects(command(server.port, ['PING']), 'the plain protocol is refused on the TLS port')
    await assert.rejects(RedisSessionStore.connect({ url: server.url, connectTimeoutMs: 1000 }), (err: unknown) => {
      assert.equal((err as { code?: string }).code, 'ERR_STORE_UNAVAILABLE')
      assert.match(String((err as Error).cause), /certificate/)
      return true
    })
    const store = await RedisSessionStore.connect({ url: server.url, tls: { ca: certificates.ca }, keyPrefix: uniquePrefix('tls') })
    t.after(() => store.close())
    await runWholeFlow(store)
  })

  void test('runs the whole flow over TLS with a client certificate read from the environment', async (t) => {
    const server = await startTlsRedis(certificates, { requireClientCert: true })
    t.after(() => server.stop())
    // Without the client certificate the connection is refused. Checked in a child process, so that a crash
    // (an 'error' event nobody listens to) shows as the child's failure rather than taking the runner down.
    const attempt = (tls: Record<string, string>, url = server.url) => {
      const script = `import { RedisSessionStore } from ${JSON.stringify(new URL('../../index.ts', import.meta.url).href)}
        try { const s = await RedisSessionStore.connect({ url: ${JSON.stringify(url)}, tls: ${JSON.stringify(tls)}, connectTimeoutMs: 1000, commandTimeoutMs: 1000 }); await s.close(); console.log('CONNECTED') }
        catch (err) { console.log('REFUSED ' + err.code) }
        // Late socket errors would surface now, as an uncaught exception (exit code 1).
        await new Promise((resolve) => setTimeout(resolve, 300)); process.exit(0)`
      // Asynchronous, with a generous bound: on a machine busy with other suites a tsx child can take tens of seconds to start.
      return new Promise<{ stdout: string; stderr: string; status: number | null }>((resolve) => {
        execFile(process.execPath, ['--conditions=tessera-source', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
          const status = err ? (typeof err.code === 'number' ? err.code : null) : 0
          resolve({ stdout, stderr: `${stderr}${err && status === null ? `\n(child ended: ${err.signal ?? err.message})` : ''}`, status })
        })
      })
    }
    const pem = (file: string) => readFileSync(file, 'utf8')
    const refused = await attempt({ ca: pem(certificates.caFile) })
    assert.match(refused.stdout, /^REFUSED ERR_STORE_UNAVAILABLE$/m, `exit ${refused.status}: ${refused.stderr}`)
    assert.equal(refused.status, 0, refused.stderr)
    // The same refusal when the connection then ends in a reset (as when the server closes with the client's
    // bytes unread): Node reports the TLS 1.3 alert without destroying the socket, so the reset is a second
    // 'error' event. node-redis listens once; without Tessera's guard the process crashed with ECONNRESET.
    const resetting = await startResettingProxy(server.port)
    t.after(() => resetting.close())
    for (let i = 0; i < 3; i++) {
      const reset = await attempt({ ca: pem(certificates.caFile) }, `rediss://127.0.0.1:${resetting.port}`)
      assert.doesNotMatch(reset.stderr, /ECONNRESET|Unhandled 'error' event/, 'a refused client never crashes')
      assert.match(reset.stdout, /^REFUSED ERR_STORE_UNAVAILABLE$/m, `exit ${reset.status}: ${reset.stderr}`)
      assert.equal(reset.status, 0, reset.stderr)
    }
    // The same child with the client certificate connects: the refusal above was for the missing certificate.
    const accepted = await attempt({ ca: pem(certificates.caFile), cert: pem(certificates.clientCertFile), key: pem(certificates.clientKeyFile) })
    assert.match(accepted.stdout, /^CONNECTED$/m, accepted.stderr)
    const options = redisOptionsFromEnv({
      REDIS_URL: server.url,
      REDIS_TLS_CA: certificates.caFile,
      REDIS_TLS_CERT: certificates.clientCertFile,
      REDIS_TLS_KEY: certificates.clientKeyFile,
    })
    const store = await RedisSessionStore.connect({ ...options, keyPrefix: uniquePrefix('mtls') })
    t.after(() => store.close())
    await runWholeFlow(store)
  })
})

/** Forwards to `port`; when the server ends its side, the client gets a reset (RST) shortly after instead of an end. */
async function startResettingProxy(port: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const proxy = createServer((client) => {
    const upstream = connect(port, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => socket.destroy())
      socket.on('close', () => sockets.delete(socket))
    }
    client.pipe(upstream)
    upstream.on('data', (chunk: Buffer) => client.write(chunk))
    upstream.on('end', () => setTimeout(() => client.resetAndDestroy(), 30))
  })
  proxy.listen(0, '127.0.0.1')
  await once(proxy, 'listening')
  return {
    port: (proxy.address() as AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => proxy.close(() => resolve()))
    },
  }
}

void describe('Redis ACL', () => {
  let redis: PrivateRedis
  before(async () => {
    redis = await startPrivateRedis()
    await command(redis.port, ['ACL', 'SETUSER', 'tessera', 'reset', 'on', '>tessera-acl-secret', ...TESSERA_ACL_RULES])
  })
  after(() => redis?.stop())

  void test('works as a user restricted to its own key prefix and the commands it needs', async (t) => {
    const store = await RedisSessionStore.connect({ url: redis.url, username: 'tessera', password: 'tessera-acl-secret', keyPrefix: 'tessera:' })
    t.after(() => store.close())
    await runWholeFlow(store)
    // The same user can neither read outside the prefix nor run anything else.
    await assert.rejects(store.connection.send(['HGETALL', 'other:key'], { key: 'other:key' }), /NOPERM/)
    await assert.rejects(store.connection.send(['FLUSHALL']), /NOPERM/)
    await assert.rejects(store.connection.send(['KEYS', '*']), /NOPERM/)
  })

  void test('cannot log in with a wrong password, and says so as unavailable', async () => {
    await assert.rejects(RedisSessionStore.connect({ url: redis.url, username: 'tessera', password: 'wrong', keyPrefix: 'tessera:', connectTimeoutMs: 1000 }), {
      code: 'ERR_STORE_UNAVAILABLE',
    })
  })

  void test('reads the ACL user from the environment', () => {
    assert.deepEqual(redisOptionsFromEnv({ REDIS_URL: redis.url, REDIS_USERNAME: 'tessera', REDIS_PASSWORD: 'p' }), { url: redis.url, username: 'tessera', password: 'p' })
  })
})
