import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { startSmtpCapture } from '../../server/test/smtp-capture.js'
import { OutboxMailer, createMailer } from '../index.js'

void test('the outbox mailer writes one JSON file per message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-outbox-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const mailer = createMailer({ outboxDir: join(dir, 'out'), from: 'auth@localhost' })
  assert.ok(mailer instanceof OutboxMailer)
  await mailer.send({ to: 'ada@example.com', subject: 'One', text: 'first' })
  await mailer.send({ to: 'bob@example.com', subject: 'Two', text: 'second' })
  const files = readdirSync(join(dir, 'out')).sort()
  assert.equal(files.length, 2)
  const messages = files.map((f) => JSON.parse(readFileSync(join(dir, 'out', f), 'utf8')))
  assert.deepEqual(messages.map((m) => m.subject).sort(), ['One', 'Two'])
  assert.deepEqual(Object.keys(messages[0]).sort(), ['subject', 'text', 'to'])
})

void test('the SMTP mailer delivers to a real SMTP server', async (t) => {
  const smtp = await startSmtpCapture()
  t.after(() => smtp.close())
  const mailer = createMailer({ smtpUrl: smtp.url, outboxDir: '/nonexistent', from: 'Tessera <auth@localhost>' })
  t.after(() => mailer.close())
  assert.equal(mailer.kind, 'smtp')
  await mailer.send({ to: 'ada@example.com', subject: 'Hello', text: 'Hi Ada' })
  const message = await smtp.next()
  assert.deepEqual(message.to, ['ada@example.com'])
  assert.equal(message.subject, 'Hello')
  assert.match(message.text, /Hi Ada/)
})

void test('a URL that is not smtp:// is refused', () => {
  assert.throws(() => createMailer({ smtpUrl: 'http://x', outboxDir: '/tmp', from: 'a@b.c' }), /SMTP_URL/)
})
