// The real gateway process at LOG_LEVEL=trace, with its production redaction:
// requests its HTTP parser refuses, unknown routes and malformed URLs, each
// carrying a live bearer token. No log line (byte fields decoded) and no answer
// may hold the token, and no answer echoes the path.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, test } from 'node:test'
import { createTessera, SigningKeySet, type Tessera } from '@tessera/core'
import { startGatewayProcess, type OwnedProcess } from '../../../../test/support/edge.js'
import { decodeBytes, rawRequest } from '../../../../test/support/edge-logs.js'
import { redisStoreForTest, SHARED_REDIS_URL } from '../../../../test/support/redis.js'

const ISSUER = 'https://auth.test'
const AUDIENCE = 'api'

let redis: Awaited<ReturnType<typeof redisStoreForTest>>
let auth: Tessera
let gateway: OwnedProcess & { port: number; url: string; output(): string }

before(async () => {
  redis = await redisStoreForTest('gw-logs')
  const keys = await SigningKeySet.generate({ alg: 'ES256' })
  auth = await createTessera({ store: redis.store, keys, issuer: ISSUER, audience: AUDIENCE, tokenKey: randomBytes(32), accessTokenTtlSeconds: 300 })
  gateway = await startGatewayProcess({
    REDIS_URL: SHARED_REDIS_URL,
    TESSERA_REDIS_PREFIX: redis.prefix,
    TESSERA_ISSUER: ISSUER,
    TESSERA_AUDIENCE: AUDIENCE,
    TESSERA_SIGNING_KEYS: JSON.stringify(keys.toJSON()),
    LOG_LEVEL: 'trace',
  })
})

after(async () => {
  await gateway?.stop()
  await auth?.close()
  await redis?.cleanup()
})

test('at LOG_LEVEL=trace no log line or answer of the gateway holds the bearer token: parser-refused requests, unknown routes, bad URLs', async () => {
  const { accessToken } = await auth.createSession({ userId: 'trace-user' })
  const signature = accessToken.split('.')[2]!
  const authorization = `Bearer ${accessToken}`
  assert.equal((await fetch(`${gateway.url}/forward-auth`, { headers: { authorization } })).status, 200)

  // Node's HTTP parser refuses these and puts their raw bytes (rawPacket) on the error it hands to Fastify.
  for (const malformed of [
    `GET /forward-auth HTTP/1.1\r\nHost: a\r\nAuthorization: ${authorization}\r\nBad Header Line\r\n\r\n`,
    `GET /forward-auth HTTP/1.1\r\nHost: a\r\nAuthorization: ${authorization}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello`,
  ]) {
    const answer = await rawRequest(gateway.port, malformed)
    assert.match(answer, /^HTTP\/1\.1 400 /)
    assert.match(answer, /content-type: application\/problem\+json/i)
    assert.ok(!answer.includes(signature), 'the answer holds the token')
  }

  // The path may hold a token (a pasted link): the answer says what is wrong, never what was asked.
  const marker = 'c2VjcmV0LXBhdGg'
  for (const [path, status, code] of [
    [`/no/such/route/${marker}?token=${marker}`, 404, 'ERR_NOT_FOUND'],
    [`/forward-auth/${marker}%E0%A4%A`, 400, 'ERR_BAD_REQUEST'],
  ] as const) {
    const res = await fetch(gateway.url + path, { headers: { authorization } })
    const text = await res.text()
    assert.equal(res.status, status, `${path}: ${text}`)
    assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/)
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    assert.equal((JSON.parse(text) as { code: string }).code, code)
    assert.ok(!text.includes(marker) && !text.includes('no/such'), `${path}: the answer echoes the path: ${text}`)
  }

  await gateway.stop()
  const lines = gateway.output().split('\n').filter(Boolean)
  assert.ok(lines.some((l) => l.includes('client error')), 'the refused requests were logged (at trace)')
  const leaks = lines.map(decodeBytes).filter((l) => l.includes(signature))
  assert.deepEqual(leaks.map((l) => l.slice(0, 200)), [])
})
