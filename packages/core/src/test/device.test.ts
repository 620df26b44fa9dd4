// Device metadata: what a client writes (name, address, user agent) must be
// stored printable and must never corrupt the compact encoding, whose
// variable fields carry one-byte lengths.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeDeviceMetadata } from '../device.js'
import { createTessera, encodeDeviceMetadata, MemoryStore, normaliseDevice, printable } from '../index.js'

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'

void test('a device name of 64 four-byte characters (256 bytes) is stored cut at a character, the other fields intact', async () => {
  const name = '😀'.repeat(64)
  const device = normaliseDevice({ name, ip: '2001:db8::7', userAgent: UA })
  const decoded = decodeDeviceMetadata(encodeDeviceMetadata(device), 'default')
  assert.equal(decoded.ip, '2001:db8::7')
  assert.equal(decoded.userAgent, UA)
  assert.equal(decoded.name, '😀'.repeat(63), 'the longest whole-character prefix within 255 bytes')

  const auth = await createTessera({ store: new MemoryStore() })
  const session = await auth.createSession({ userId: 'u1', device: { name, ip: '203.0.113.5', userAgent: UA } })
  const [listed] = await auth.listSessions('u1')
  assert.equal(listed?.sessionId, session.sessionId)
  assert.equal(listed?.device.ip, '203.0.113.5')
  assert.equal(listed?.device.userAgent, UA)
  assert.ok(listed?.device.name.startsWith('😀'.repeat(60)))
})

void test('an IPv6 zone id (of any length) is dropped, so it cannot overflow the address length byte', () => {
  const device = normaliseDevice({ ip: `fe80::1%${'z'.repeat(300)}`, name: 'laptop', userAgent: UA })
  assert.equal(device.ip, 'fe80::1')
  const decoded = decodeDeviceMetadata(encodeDeviceMetadata(device), 'default')
  assert.deepEqual({ ip: decoded.ip, name: decoded.name, userAgent: decoded.userAgent }, { ip: 'fe80::1', name: 'laptop', userAgent: UA })
  // The encoder caps on its own too, for callers that skip normaliseDevice.
  const raw = decodeDeviceMetadata(encodeDeviceMetadata({ ...device, ip: `fe80::1%${'z'.repeat(300)}` }), 'default')
  assert.deepEqual({ ip: raw.ip, name: raw.name }, { ip: 'fe80::1', name: 'laptop' })
})

void test('device names and user agents are stored without escape sequences, control characters or bidi overrides', async () => {
  const hostile = 'Work\u001b[2J\u001b]0;pwned\u0007 lap\u0085top\u202e\u2066\u0000\r\n'
  assert.equal(printable(hostile), 'Work laptop')
  const auth = await createTessera({ store: new MemoryStore() })
  await auth.createSession({ userId: 'u2', device: { name: hostile, userAgent: `curl/8.0\u001b[31m\u0085` } })
  const [listed] = await auth.listSessions('u2')
  assert.equal(listed?.device.name, 'Work laptop')
  assert.equal(listed?.device.userAgent, 'curl/8.0')
  // Emoji sequences (zero-width joiners) and other scripts are kept.
  assert.equal(printable('👩‍💻 Ноутбук 東京'), '👩‍💻 Ноутбук 東京')
})
