import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Webhook } from 'standardwebhooks'
import { WebhookVerificationError, generateWebhookSecret, signWebhook, verifyWebhook, webhookSecretKey } from '../webhook-signature.js'

const secret = generateWebhookSecret()
const body = JSON.stringify({ type: 'user.banned', timestamp: '2026-12-02T08:00:00.000Z', data: { userId: 'u1' } })
const NOW_MS = 1_800_000_000_000

function refused(run: () => unknown, code: string): void {
  assert.throws(run, (err: unknown) => err instanceof WebhookVerificationError && err.code === code)
}

describe('Standard Webhooks signatures', () => {
  test('what we sign, the standardwebhooks package verifies', () => {
    const headers = signWebhook({ secret, id: 'msg_1', timestampSeconds: Math.floor(Date.now() / 1000), body })
    assert.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/)
    assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body))
  })

  test('what the standardwebhooks package signs, we verify', () => {
    const at = new Date(NOW_MS)
    const signature = new Webhook(secret).sign('msg_2', at, body)
    const headers = { 'webhook-id': 'msg_2', 'webhook-timestamp': String(NOW_MS / 1000), 'webhook-signature': signature }
    assert.deepEqual(verifyWebhook({ secret, headers, body, nowMs: NOW_MS }), JSON.parse(body))
    // A Fetch Headers object works the same, and a second secret (rotation) is accepted.
    assert.deepEqual(verifyWebhook({ secret: [generateWebhookSecret(), secret], headers: new Headers(headers), body, nowMs: NOW_MS + 299_000 }), JSON.parse(body))
  })

  test('refuses a changed body, another id, a wrong secret and a missing header', () => {
    const headers = signWebhook({ secret, id: 'msg_3', timestampSeconds: NOW_MS / 1000, body })
    refused(() => verifyWebhook({ secret, headers, body: body.replace('u1', 'u2'), nowMs: NOW_MS }), 'ERR_WEBHOOK_SIGNATURE')
    refused(() => verifyWebhook({ secret, headers: { ...headers, 'webhook-id': 'msg_4' }, body, nowMs: NOW_MS }), 'ERR_WEBHOOK_SIGNATURE')
    refused(() => verifyWebhook({ secret: generateWebhookSecret(), headers, body, nowMs: NOW_MS }), 'ERR_WEBHOOK_SIGNATURE')
    refused(() => verifyWebhook({ secret, headers: { ...headers, 'webhook-signature': 'v2,' + headers['webhook-signature'].slice(3) }, body, nowMs: NOW_MS }), 'ERR_WEBHOOK_SIGNATURE')
    refused(() => verifyWebhook({ secret, headers: { 'webhook-id': 'msg_3', 'webhook-timestamp': headers['webhook-timestamp'] }, body, nowMs: NOW_MS }), 'ERR_WEBHOOK_HEADERS')
  })

  test('refuses a timestamp outside the replay window, in both directions', () => {
    const headers = signWebhook({ secret, id: 'msg_5', timestampSeconds: NOW_MS / 1000, body })
    refused(() => verifyWebhook({ secret, headers, body, nowMs: NOW_MS + 301_000 }), 'ERR_WEBHOOK_TIMESTAMP')
    refused(() => verifyWebhook({ secret, headers, body, nowMs: NOW_MS - 301_000 }), 'ERR_WEBHOOK_TIMESTAMP')
    refused(() => verifyWebhook({ secret, headers, body, nowMs: NOW_MS + 61_000, toleranceSeconds: 60 }), 'ERR_WEBHOOK_TIMESTAMP')
    refused(() => verifyWebhook({ secret, headers: { ...headers, 'webhook-timestamp': '1e9' }, body, nowMs: NOW_MS }), 'ERR_WEBHOOK_TIMESTAMP')
  })

  test('secrets must be whsec_ and 24-64 bytes of base64', () => {
    assert.equal(webhookSecretKey(secret).length, 32)
    for (const bad of ['abc', 'whsec_', 'whsec_c2hvcnQ=', `whsec_${'!'.repeat(40)}`]) assert.throws(() => webhookSecretKey(bad), TypeError)
  })
})
