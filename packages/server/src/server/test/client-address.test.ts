// Client addresses behind proxies: TESSERA_TRUST_PROXY names which proxies to
// trust (never "all", never a bare hop count), limits bucket IPv6 per /64, and a
// forwarded value that is not an address never changes the answer or
// corrupts the stored device.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { ConfigError, loadConfig } from '../config.js'
import { rateLimitBucket } from '../client-address.js'
import type { AppOptions } from '../app.js'
import { bearer, PASSWORD, problemOf, signUp, testSchema, testServer, uniqueEmail, type TestServer } from './helpers.js'

let schema: Awaited<ReturnType<typeof testSchema>>
before(async () => {
  schema = await testSchema()
})
after(() => schema.drop())

const limits = {
  loginPerIp: { max: 6, windowSeconds: 60 },
  loginPerAccount: { max: 1000, windowSeconds: 60 },
  refreshPerIp: { max: 1000, windowSeconds: 60 },
  sensitivePerIp: { max: 1000, windowSeconds: 60 },
}

async function withServer(app: Partial<AppOptions>, body: (server: TestServer) => Promise<void>) {
  const server = await testServer({ schema: schema.schema, app: { rateLimits: limits, ...app } })
  try {
    await body(server)
  } finally {
    await server.close()
  }
}

function login(server: TestServer, email: string, password: string, remoteAddress: string, forwardedFor?: string, deviceName?: string) {
  return server.app.inject({
    method: 'POST',
    url: '/auth/login',
    remoteAddress,
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
    payload: { email, password, ...(deviceName === undefined ? {} : { device_name: deviceName }) },
  })
}

async function listedDevice(server: TestServer, accessToken: string) {
  const res = await server.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(accessToken) })
  assert.equal(res.statusCode, 200, res.body)
  const sessions = res.json<{ sessions: { ip: string; device_name: string; current: boolean }[] }>().sessions
  return sessions.find((s) => s.current)!
}

void test('TESSERA_TRUST_PROXY takes proxy addresses/CIDRs; true (every hop) and hop counts are refused with the form named', () => {
  assert.equal(loadConfig({}).trustProxy, false)
  assert.equal(loadConfig({ TESSERA_TRUST_PROXY: 'false' }).trustProxy, false)
  assert.equal(loadConfig({ TESSERA_TRUST_PROXY: '0' }).trustProxy, false)
  assert.deepEqual(loadConfig({ TESSERA_TRUST_PROXY: '10.0.0.0/8, 192.0.2.1 ,fd00::/8,loopback' }).trustProxy, ['10.0.0.0/8', '192.0.2.1', 'fd00::/8', 'loopback'])
  for (const yes of ['true', 'TRUE', 'yes', '1']) {
    assert.throws(() => loadConfig({ TESSERA_TRUST_PROXY: yes }), (err: Error) => err instanceof ConfigError && /every X-Forwarded-For hop/.test(err.message) && /addresses or CIDRs/.test(err.message))
  }
  assert.throws(() => loadConfig({ TESSERA_TRUST_PROXY: '2' }), (err: Error) => err instanceof ConfigError && /hop count cannot tell/.test(err.message))
  for (const bad of ['10.0.0.0/33', 'proxy.example', '10.0.0.1/8/2', '::1/129', '1.2.3']) {
    assert.throws(() => loadConfig({ TESSERA_TRUST_PROXY: bad }), ConfigError, bad)
  }
})

void test('IPv6 clients are limited per /64; IPv4-mapped addresses count as IPv4', async () => {
  assert.equal(rateLimitBucket('2001:db8:1:2::1'), '2001:db8:1:2::/64')
  assert.equal(rateLimitBucket('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64')
  assert.equal(rateLimitBucket('::ffff:198.51.100.4'), '198.51.100.4')
  assert.equal(rateLimitBucket('198.51.100.4'), '198.51.100.4')
  await withServer({}, async (server) => {
    const email = uniqueEmail()
    for (let i = 1; i <= 6; i++) assert.equal((await login(server, email, 'wrong password!!', `2001:db8:1:2::${i.toString(16)}`)).statusCode, 401)
    const limited = await login(server, email, 'wrong password!!', '2001:db8:1:2:abcd::99')
    assert.equal(limited.statusCode, 429)
    assert.equal(problemOf(limited).code, 'ERR_RATE_LIMITED')
    // The neighbouring /64 is another customer.
    assert.equal((await login(server, email, 'wrong password!!', '2001:db8:1:3::1')).statusCode, 401)
  })
})

void test('behind a trusted proxy, the address the proxy saw counts, not the hops a client wrote before it', async () => {
  await withServer({ trustProxy: ['10.0.0.2'] }, async (server) => {
    const email = uniqueEmail()
    for (let i = 1; i <= 6; i++) assert.equal((await login(server, email, 'wrong password!!', '10.0.0.2', `198.51.100.${i}, 203.0.113.9`)).statusCode, 401)
    assert.equal((await login(server, email, 'wrong password!!', '10.0.0.2', '198.51.100.77, 203.0.113.9')).statusCode, 429)
    // A client that reaches the port directly is its own address, whatever it writes.
    assert.equal((await login(server, email, 'wrong password!!', '192.0.2.200', '203.0.113.50')).statusCode, 401)
  })
  await withServer({ trustProxy: ['10.0.0.0/8'] }, async (server) => {
    const { email } = await signUp(server.app)
    const res = await login(server, email, PASSWORD, '10.1.2.3', '192.0.2.66, 203.0.113.10')
    assert.equal(res.statusCode, 200, res.body)
    assert.equal((await listedDevice(server, res.json<{ access_token: string }>().access_token)).ip, '203.0.113.10')
  })
})

void test('a forwarded value that is not an address (unknown, garbage, a long zone id) is the peer address: same answers, intact device', async () => {
  await withServer({ trustProxy: ['10.0.0.3'], rateLimits: { ...limits, loginPerIp: { max: 100, windowSeconds: 60 } } }, async (server) => {
    const { email } = await signUp(server.app)
    const cases: [string, string][] = [['unknown', '10.0.0.3'], ['not an address', '10.0.0.3'], ['_hidden', '10.0.0.3'], ['1.2.3.4.5', '10.0.0.3'], [`fe80::1%${'z'.repeat(300)}`, 'fe80::1'], [`${'f'.repeat(300)}`, '10.0.0.3']]
    for (const [forwarded, recorded] of cases) {
      const right = await login(server, email, PASSWORD, '10.0.0.3', forwarded)
      assert.equal(right.statusCode, 200, `${forwarded.slice(0, 20)}: ${right.body}`)
      const device = await listedDevice(server, right.json<{ access_token: string }>().access_token)
      assert.equal(device.ip, recorded)
      const wrong = await login(server, email, 'wrong password!!', '10.0.0.3', forwarded)
      assert.equal(wrong.statusCode, 401)
    }
    // A scoped link-local address keeps the address, never the zone (of any length).
    const scoped = await login(server, email, PASSWORD, '10.0.0.3', `fe80::7%eth0`)
    assert.equal((await listedDevice(server, scoped.json<{ access_token: string }>().access_token)).ip, 'fe80::7')
  })
})

void test('a device name of 64 four-byte characters signs in and is listed whole-charactered, not as a corrupt record', async () => {
  await withServer({}, async (server) => {
    const { email } = await signUp(server.app)
    const res = await login(server, email, PASSWORD, '192.0.2.8', undefined, '😀'.repeat(64))
    assert.equal(res.statusCode, 200, res.body)
    const device = await listedDevice(server, res.json<{ access_token: string }>().access_token)
    assert.equal(device.ip, '192.0.2.8')
    assert.equal(device.device_name, '😀'.repeat(63))
    const hostile = await login(server, email, PASSWORD, '192.0.2.8', undefined, 'Phone\u001b[2J\u001b]8;;http://evil\u0007\u202e')
    assert.equal((await listedDevice(server, hostile.json<{ access_token: string }>().access_token)).device_name, 'Phone')
  })
})

void test('device details follow one rule: a 65-character device name signs in and is cut to 64, as a long user agent is cut to 512', async () => {
  await withServer({}, async (server) => {
    const { email } = await signUp(server.app)
    const res = await server.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password: PASSWORD, device_name: `${'n'.repeat(64)}X` },
      headers: { 'user-agent': `${'u'.repeat(512)}Y` },
    })
    assert.equal(res.statusCode, 200, res.body)
    const device = await listedDevice(server, res.json<{ access_token: string }>().access_token)
    assert.equal(device.device_name, 'n'.repeat(64))
  })
})
