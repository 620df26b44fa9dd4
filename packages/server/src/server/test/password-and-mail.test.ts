import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { manualClock } from '@tessera/core'
import { SmtpMailer } from '../../mail/smtp-mailer.js'
import { MemoryMailer, PASSWORD, bearer, problemOf, signUp, testSchema, testServer, uniqueEmail, type TestServer } from './helpers.js'
import { startSmtpCapture, type SmtpCapture } from './smtp-capture.js'

const ADMIN_TOKEN = 'admin-secret-of-at-least-24-chars'
let server: TestServer
let smtp: SmtpCapture
let drop: () => Promise<void>
before(async () => {
  const s = await testSchema()
  drop = () => s.drop()
  smtp = await startSmtpCapture()
  server = await testServer({ schema: s.schema, redis: true, mailer: new SmtpMailer(smtp.url, 'Tessera <auth@auth.test>'), app: { adminToken: ADMIN_TOKEN } })
})
after(async () => {
  await server.close()
  await server.mailer.close()
  await smtp.close()
  await drop()
})

function tokenIn(text: string, name: string): string {
  const match = new RegExp(`http://auth\\.test/account#${name}=([A-Za-z0-9._-]+)`).exec(text)
  assert.ok(match, `no ${name} link in: ${text}`)
  return match[1]!
}

const login = (email: string, password: string) => server.app.inject({ method: 'POST', url: '/auth/login', payload: { email, password } })

void test('password reset over real SMTP: 202, mail with a link, new password works, every session ends, the token works once', async () => {
  const { email, tokens } = await signUp(server.app)
  const res = await server.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { email: email.toUpperCase() } })
  assert.equal(res.statusCode, 202)
  const mail = await smtp.next()
  assert.deepEqual(mail.to, [email])
  assert.equal(mail.subject, 'Reset your password')
  const token = tokenIn(mail.text, 'reset_token')

  // The page checks the link before it shows the form; checking, even twice, uses nothing up.
  const check = () => server.app.inject({ method: 'POST', url: '/auth/password-reset/check', payload: { token } })
  for (let i = 0; i < 2; i++) {
    const alive = await check()
    assert.equal(alive.statusCode, 200, alive.body)
    assert.deepEqual(alive.json(), { valid: true })
  }
  const forged = await server.app.inject({ method: 'POST', url: '/auth/password-reset/check', payload: { token: 'tso1.abc.password-reset.x.y' } })
  assert.deepEqual(forged.json(), { valid: false })

  const weak = await server.app.inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token, new_password: 'short' } })
  assert.equal(problemOf(weak).code, 'ERR_WEAK_PASSWORD')
  const confirm = await server.app.inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token, new_password: 'a brand new passphrase' } })
  assert.equal(confirm.statusCode, 204)
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) })).statusCode, 401)
  assert.equal((await login(email, PASSWORD)).statusCode, 401)
  assert.equal((await login(email, 'a brand new passphrase')).statusCode, 200)
  const again = await server.app.inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token, new_password: 'another new passphrase' } })
  assert.equal(again.statusCode, 400)
  assert.equal(problemOf(again).code, 'ERR_ONE_TIME_TOKEN_INVALID')
  assert.deepEqual((await check()).json(), { valid: false }, 'a used link checks as dead')
})

void test('a reset link past its lifetime checks as dead, and confirming it is refused', async (t) => {
  const schema = await testSchema()
  t.after(() => schema.drop())
  const clock = manualClock(Date.now())
  const mailer = new MemoryMailer()
  const expiring = await testServer({ schema: schema.schema, redis: true, mailer, auth: { clock }, app: { passwordResetTtlSeconds: 600 } })
  t.after(() => expiring.close())
  const { email } = await signUp(expiring.app)
  assert.equal((await expiring.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { email } })).statusCode, 202)
  await expiring.app.backgroundSettled()
  const token = tokenIn(mailer.sent.at(-1)?.text ?? '', 'reset_token')
  const check = async () => (await expiring.app.inject({ method: 'POST', url: '/auth/password-reset/check', payload: { token } })).json<{ valid: boolean }>()

  clock.advance(599_000)
  assert.deepEqual(await check(), { valid: true }, 'alive a second before its lifetime ends')
  clock.advance(1_001)
  assert.deepEqual(await check(), { valid: false }, 'dead once its lifetime has passed')
  const confirm = await expiring.app.inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token, new_password: 'a brand new passphrase' } })
  assert.equal(problemOf(confirm).code, 'ERR_ONE_TIME_TOKEN_INVALID')
})

void test('password reset for an unknown email also answers 202 and sends nothing', async () => {
  const res = await server.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { email: uniqueEmail('ghost') } })
  assert.equal(res.statusCode, 202)
  const { email } = await signUp(server.app)
  await server.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { email } })
  // The next delivered message is the known user's: the ghost got none.
  assert.deepEqual((await smtp.next()).to, [email])
})

void test('a forged reset token is refused with 400', async () => {
  const res = await server.app.inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token: 'tso1.abc.password-reset.x.y', new_password: 'a brand new passphrase' } })
  assert.equal(res.statusCode, 400)
  assert.equal(problemOf(res).code, 'ERR_ONE_TIME_TOKEN_INVALID')
})

void test('email verification over real SMTP marks the address verified; the token works once', async () => {
  const { tokens } = await signUp(server.app)
  const res = await server.app.inject({ method: 'POST', url: '/auth/email-verification', headers: bearer(tokens.access_token) })
  assert.equal(res.statusCode, 202)
  const mail = await smtp.next()
  assert.equal(mail.subject, 'Confirm your email address')
  const token = tokenIn(mail.text, 'verify_token')
  const reset = await server.app.inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token, new_password: 'a brand new passphrase' } })
  assert.equal(problemOf(reset).code, 'ERR_ONE_TIME_TOKEN_INVALID', 'a verification token is not a reset token')
  const confirm = await server.app.inject({ method: 'POST', url: '/auth/email-verification/confirm', payload: { token } })
  assert.equal(confirm.statusCode, 204)
  const me = await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) })
  assert.equal(me.json().email_verified, true)
  const again = await server.app.inject({ method: 'POST', url: '/auth/email-verification/confirm', payload: { token } })
  assert.equal(problemOf(again).code, 'ERR_ONE_TIME_TOKEN_INVALID')
  assert.equal((await server.app.inject({ method: 'POST', url: '/auth/email-verification' })).statusCode, 401)
})

void test('password change needs the current password, keeps this session and ends the others', async () => {
  const { email, tokens } = await signUp(server.app)
  const other = (await login(email, PASSWORD)).json()
  const wrong = await server.app.inject({ method: 'POST', url: '/auth/password', headers: bearer(tokens.access_token), payload: { current_password: 'not my password', new_password: 'a brand new passphrase' } })
  assert.equal(wrong.statusCode, 403)
  assert.equal(problemOf(wrong).code, 'ERR_WRONG_PASSWORD')
  const weak = await server.app.inject({ method: 'POST', url: '/auth/password', headers: bearer(tokens.access_token), payload: { current_password: PASSWORD, new_password: 'short' } })
  assert.equal(problemOf(weak).code, 'ERR_WEAK_PASSWORD')
  const ok = await server.app.inject({ method: 'POST', url: '/auth/password', headers: bearer(tokens.access_token), payload: { current_password: PASSWORD, new_password: 'a brand new passphrase' } })
  assert.equal(ok.statusCode, 204)
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) })).statusCode, 200)
  assert.equal((await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(other.access_token) })).statusCode, 401)
  assert.equal((await login(email, 'a brand new passphrase')).statusCode, 200)
})

void test('a password change ends the reset link mailed before it: seeing the mail once is not enough to take the account back', async () => {
  const { email, tokens } = await signUp(server.app)
  await server.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { email } })
  const token = tokenIn((await smtp.next()).text, 'reset_token')
  const change = await server.app.inject({ method: 'POST', url: '/auth/password', headers: bearer(tokens.access_token), payload: { current_password: PASSWORD, new_password: 'the owner secured it' } })
  assert.equal(change.statusCode, 204)
  const stale = await server.app.inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token, new_password: 'the attacker wants it' } })
  assert.equal(stale.statusCode, 400)
  assert.equal(problemOf(stale).code, 'ERR_ONE_TIME_TOKEN_INVALID')
  assert.equal((await login(email, 'the owner secured it')).statusCode, 200)
})

void test('a completed reset ends every other reset link of the user, including one requested while the reset was under way', async (t) => {
  const { email, userId } = await signUp(server.app)
  const requestLink = async () => {
    assert.equal((await server.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { email } })).statusCode, 202)
    return tokenIn((await smtp.next()).text, 'reset_token')
  }
  const confirm = (token: string, password: string) => server.app.inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token, new_password: password } })
  // Two requests: the newer link replaces the older one (one outstanding reset link per user).
  const first = await requestLink()
  const second = await requestLink()
  assert.equal(problemOf(await confirm(first, 'the first link wins')).code, 'ERR_ONE_TIME_TOKEN_INVALID')
  // A third link asked for while the second one's reset is under way (after the link was used, before the password is
  // stored: a second tab, or someone else pressing "forgot password") is outstanding when the reset completes.
  let during = null as string | null
  const users = server.users
  const setPasswordHash = users.setPasswordHash.bind(users)
  users.setPasswordHash = async (id, hash) => {
    if (id === userId && during === null) during = (await server.auth.issueOneTimeToken(userId, 'password-reset')).token
    return setPasswordHash(id, hash)
  }
  t.after(() => {
    users.setPasswordHash = setPasswordHash
  })
  assert.equal((await confirm(second, 'the owner resets it')).statusCode, 204)
  assert.ok(during, 'a link was issued during the reset')
  const late = await confirm(during, 'the late link takes it back')
  assert.equal(late.statusCode, 400)
  assert.equal(problemOf(late).code, 'ERR_ONE_TIME_TOKEN_INVALID')
  assert.equal((await login(email, 'the owner resets it')).statusCode, 200)
})

void test('a verification link survives a password change: it only proves the address it was sent to and gives no access', async () => {
  const { email, tokens } = await signUp(server.app)
  assert.equal((await server.app.inject({ method: 'POST', url: '/auth/email-verification', headers: bearer(tokens.access_token) })).statusCode, 202)
  const verify = tokenIn((await smtp.next()).text, 'verify_token')
  assert.equal((await server.app.inject({ method: 'POST', url: '/auth/password', headers: bearer(tokens.access_token), payload: { current_password: PASSWORD, new_password: 'changed after the mail' } })).statusCode, 204)
  assert.equal((await server.app.inject({ method: 'POST', url: '/auth/email-verification/confirm', payload: { token: verify } })).statusCode, 204)
  const me = await server.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(tokens.access_token) })
  assert.equal(me.json<{ email_verified: boolean }>().email_verified, true)
  assert.equal(me.json<{ email: string }>().email, email)
})

void test('an admin ban ends every reset and verification link of the user', async () => {
  const { email, userId } = await signUp(server.app)
  const verify = await server.auth.issueOneTimeToken(userId, 'email-verification', { data: email })
  await server.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { email } })
  const reset = tokenIn((await smtp.next()).text, 'reset_token')
  assert.equal((await server.app.inject({ method: 'POST', url: `/admin/users/${userId}/ban`, headers: bearer(ADMIN_TOKEN), payload: { until: new Date(Date.now() + 1000).toISOString() } })).statusCode, 200)
  await server.auth.unbanUser(userId)
  assert.equal(problemOf(await server.app.inject({ method: 'POST', url: '/auth/password-reset/confirm', payload: { token: reset, new_password: 'the banned one resets' } })).code, 'ERR_ONE_TIME_TOKEN_INVALID')
  assert.equal(problemOf(await server.app.inject({ method: 'POST', url: '/auth/email-verification/confirm', payload: { token: verify.token } })).code, 'ERR_ONE_TIME_TOKEN_INVALID')
})

void test('registering a taken email answers exactly as a new one and mails the owner instead', async () => {
  const { email } = await signUp(server.app)
  const fresh = await server.app.inject({ method: 'POST', url: '/auth/register', payload: { email: uniqueEmail('new'), password: PASSWORD } })
  const taken = await server.app.inject({ method: 'POST', url: '/auth/register', payload: { email: email.toUpperCase(), password: 'another passphrase here' } })
  assert.equal(fresh.statusCode, 202)
  assert.equal(taken.statusCode, 202)
  assert.equal(taken.body, fresh.body)
  const strip = (h: Record<string, unknown>) => Object.keys(h).filter((k) => k !== 'date').sort()
  assert.deepEqual(strip(taken.headers), strip(fresh.headers))
  const mail = await smtp.next()
  assert.deepEqual(mail.to, [email])
  assert.equal(mail.subject, 'Someone tried to register with your address')
  // The owner's password is unchanged.
  assert.equal((await login(email, PASSWORD)).statusCode, 200)
})

void test('reset mails to one account are capped per day: the form cannot flood an inbox', async () => {
  const { email } = await signUp(server.app)
  for (let i = 0; i < 8; i++) assert.equal((await server.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { email } })).statusCode, 202)
  await server.app.backgroundSettled()
  const sentinel = await signUp(server.app)
  await server.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { email: sentinel.email } })
  let delivered = 0
  for (let mail = await smtp.next(); mail.to[0] !== sentinel.email; mail = await smtp.next()) if (mail.to[0] === email) delivered += 1
  assert.equal(delivered, 5)
})

void test('when SMTP is unreachable the verification request is a 503, not a 500', async (t) => {
  const s = await testSchema()
  const mailer = new SmtpMailer('smtp://127.0.0.1:1', 'auth@auth.test')
  const broken = await testServer({ schema: s.schema, mailer })
  t.after(async () => {
    await broken.close()
    await mailer.close()
    await s.drop()
  })
  const { tokens } = await signUp(broken.app)
  const res = await broken.app.inject({ method: 'POST', url: '/auth/email-verification', headers: bearer(tokens.access_token) })
  assert.equal(res.statusCode, 503)
  assert.equal(problemOf(res).code, 'ERR_MAIL_UNAVAILABLE')
})
