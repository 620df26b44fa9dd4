// The auth server against forged tokens, and what it lets out: every log line
// (trace level, the production redaction) and every response body of a full
// flow is searched for each token, password and secret the flow handled.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import type { MemoryMailer } from '../../../packages/server/src/server/test/helpers.js'
import { LOG_REDACT } from '../../../packages/server/src/server/app.js'
import { PASSWORD, bearer, signUp, testSchema, testServer, uniqueEmail, type TestServer } from '../../../packages/server/src/server/test/helpers.js'
import { decodeBytes, rawRequest } from '../../support/edge-logs.js'
import { forgedTokens, spareBitVariant } from '../forged-tokens.js'

const lines: string[] = []
const bodies: string[] = []
let server: TestServer
let drop: () => Promise<void>

before(async () => {
  const s = await testSchema()
  drop = s.drop
  server = await testServer({
    schema: s.schema,
    redis: true,
    app: {
      // The redaction main.ts uses, at the most talkative level.
      logger: {
        level: 'trace',
        redact: [...LOG_REDACT],
        stream: { write: (line: string) => void lines.push(line) },
      },
    },
  })
  server.app.addHook('onSend', async (_request, _reply, payload) => {
    if (typeof payload === 'string') bodies.push(payload)
    return payload
  })
})
after(async () => {
  await server.close()
  await drop()
})

function inject(options: InjectOptions): Promise<LightMyRequestResponse> {
  return server.app.inject(options)
}

void test('the server answers 401 problem+json to every forged access token, never 2xx or 5xx', async () => {
  const { tokens } = await signUp(server.app)
  const claims = await server.auth.verifyAccessToken(tokens.access_token, { mode: 'signature' })
  const corpus = await forgedTokens({ keys: server.auth.keys, genuine: tokens.access_token, claims, audience: 'api' })
  const bad: string[] = []
  for (const forged of corpus) {
    // light-my-request refuses header values a real client could not send (NUL, newline, non-ASCII).
    if (/[^\u0020-\u007e]/.test(forged.token)) continue
    for (const url of ['/auth/me', '/auth/sessions']) {
      const res = await inject({ method: 'GET', url, headers: bearer(forged.token) })
      if (res.statusCode !== 401) bad.push(`${url} ${forged.name}: ${res.statusCode}`)
      if (res.statusCode === 401 && !String(res.headers['content-type']).startsWith('application/problem+json')) bad.push(`${forged.name}: not problem+json`)
      if (forged.token.length > 20 && res.body.includes(forged.token)) bad.push(`${forged.name}: token echoed`)
    }
  }
  assert.deepEqual(bad, [])
})

void test('forged, tampered and foreign refresh tokens are refused with 401 and revoke nothing', async () => {
  const { tokens } = await signUp(server.app)
  const [prefix, localId, user, generation, secret, tag] = tokens.refresh_token.split('.') as [string, string, string, string, string, string]
  const flip = (s: string) => s.slice(0, -2) + (s.at(-2) === 'A' ? 'B' : 'A') + s.at(-1)
  const forged = [
    `${prefix}.${localId}.${user}.${generation}.${flip(secret)}.${tag}`,
    `${prefix}.${localId}.${user}.${Number(generation) + 1}.${secret}.${tag}`,
    `${prefix}.${localId}.${Buffer.from('someone-else').toString('base64url')}.${generation}.${secret}.${tag}`,
    `${prefix}.${localId}.${user}.${generation}.${secret}.${flip(tag)}`,
    // The same tag bytes spelled another way (spare bits): one token must have one spelling.
    `${prefix}.${localId}.${user}.${generation}.${secret}.${spareBitVariant(tag)}`,
    `${prefix}.${localId}.${user}.${generation}.${secret}`,
    `${prefix}.${localId}.${user}.0.${secret}.${tag}`,
    `${prefix}.${localId}.${user}.-1.${secret}.${tag}`,
    tokens.access_token,
    `tsr2${tokens.refresh_token.slice(4)}`,
    'tsr1.........',
    'x'.repeat(4000),
  ]
  for (const token of forged) {
    const res = await inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } })
    assert.ok(res.statusCode === 401 || res.statusCode === 400, `${token.slice(0, 60)}: ${res.statusCode}`)
  }
  // None of those touched the genuine session: it still refreshes.
  const ok = await inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } })
  assert.equal(ok.statusCode, 200)
})

void test('no token, password, refresh secret or one-time token appears in any log line or response body of a full flow', async () => {
  const email = uniqueEmail('secrets')
  const newPassword = 'another horse battery staple 2'
  const resetPassword = 'a third horse battery staple 3'
  const secrets: string[] = [PASSWORD, newPassword, resetPassword, 'wrong password guess 1']
  const { tokens } = await signUp(server.app, email)
  secrets.push(tokens.access_token, tokens.refresh_token)
  const refreshed = (await inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } })).json()
  secrets.push(refreshed.access_token, refreshed.refresh_token)
  await inject({ method: 'GET', url: '/auth/me', headers: bearer(refreshed.access_token) })
  await inject({ method: 'GET', url: '/auth/sessions', headers: bearer(refreshed.access_token) })
  await inject({ method: 'POST', url: '/auth/login', payload: { email, password: 'wrong password guess 1' } })
  // Malformed JSON carrying a password: the parser's error must not quote it back.
  await inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: `{"email":"${email}","password":"${PASSWORD}"` })
  // A too-long password: the validation error must not quote it.
  await inject({ method: 'POST', url: '/auth/login', payload: { email, password: `${PASSWORD}${'!'.repeat(2000)}` } })
  const change = await inject({ method: 'POST', url: '/auth/password', headers: bearer(refreshed.access_token), payload: { current_password: PASSWORD, new_password: newPassword } })
  assert.equal(change.statusCode, 204)
  // Replays after the password change: the old refresh token and access token.
  await inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: refreshed.refresh_token } })
  await inject({ method: 'GET', url: '/auth/me', headers: bearer(refreshed.access_token) })
  const mailer = server.mailer as MemoryMailer
  const before = mailer.sent.length
  assert.equal((await inject({ method: 'POST', url: '/auth/password-reset', payload: { email } })).statusCode, 202)
  await waitForMail(mailer, before)
  const resetToken = /reset_token=([^\s]+)/.exec(mailer.sent.at(-1)!.text)![1]!
  secrets.push(resetToken)
  const confirm = await inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token: resetToken, new_password: resetPassword } })
  assert.equal(confirm.statusCode, 204)
  // The used reset token again, and a login with the new password.
  await inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token: resetToken, new_password: resetPassword } })
  const login = (await inject({ method: 'POST', url: '/auth/login', payload: { email, password: resetPassword } })).json()
  secrets.push(login.access_token, login.refresh_token)
  await inject({ method: 'POST', url: '/auth/logout', headers: bearer(login.access_token) })
  await inject({ method: 'GET', url: '/auth/me', headers: bearer(login.access_token) })
  // Requests Node's HTTP parser refuses, carrying a bearer token and a password: Node puts the raw bytes on the error.
  await server.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (server.app.server.address() as { port: number }).port
  for (const malformed of [
    `GET /auth/me HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${login.access_token}\r\nBad Header Line\r\n\r\n`,
    `POST /auth/login HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${login.refresh_token}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n{"password":"${resetPassword}"}`,
  ]) {
    const answer = await rawRequest(port, malformed)
    assert.match(answer, /^HTTP\/1\.1 400 /)
    assert.match(answer, /content-type: application\/problem\+json/i)
  }
  assert.ok(lines.some((l) => l.includes('client error')), 'the refused requests were logged (at trace)')

  // Each token's secret parts too: the refresh secret and tag, the one-time secret and tag, the JWT signature.
  // Session ids and claims are not secret, so those segments are not searched on their own.
  const needles = new Set<string>()
  for (const secret of secrets) {
    needles.add(secret)
    const parts = secret.split('.')
    if (parts.length === 3) needles.add(parts[2]!)
    else if (parts.length > 3) parts.slice(-2).forEach((p) => needles.add(p))
  }
  assert.ok(lines.length > 20, `only ${lines.length} log lines`)
  const leaks: string[] = []
  const readable = lines.map(decodeBytes)
  for (const needle of needles) {
    const hits = [...readable.filter((l) => l.includes(needle)).map((l) => `log: ${l.slice(0, 160)}`), ...bodies.filter((b) => b.includes(needle) && !isTokenReply(b)).map((b) => `body: ${b.slice(0, 160)}`)]
    if (hits.length) leaks.push(`${needle.slice(0, 12)}...: ${hits[0]}`)
  }
  assert.deepEqual(leaks, [])
})

/** The one body allowed to carry tokens: a token response to login or refresh. */
function isTokenReply(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>
    return typeof parsed.access_token === 'string' && typeof parsed.token_type === 'string'
  } catch {
    return false
  }
}

async function waitForMail(mailer: MemoryMailer, count: number): Promise<void> {
  const deadline = Date.now() + 5000
  while (mailer.sent.length <= count) {
    if (Date.now() > deadline) throw new Error('no mail')
    await new Promise((r) => setTimeout(r, 10))
  }
}
