// The production retry schedule (5 s doubling with jitter, capped at 1 h, 12 attempts, then a dead letter) on an
// injected clock: simulated hours of outage against a real HTTP receiver, without sleeping. The deliverer is
// driven one poll per simulated second (runOnce), as its loop would drive it.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateWebhookSecret, manualClock, MemoryDeliveryQueue } from '@tessera/core'
import { DEFAULT_WEBHOOK_DELIVERY, WebhookDeliverer, type DeliveryReport } from '../webhooks/deliverer.js'
import { resolveWebhookEndpoints } from '../webhooks/endpoints.js'
import { WebhookReceiver } from './webhook-receiver.js'

const STEP_MS = 1000

/** The delay after attempt `k` without jitter: 5 s doubling, capped at 1 h. */
const nominalDelayMs = (k: number) => Math.min(DEFAULT_WEBHOOK_DELIVERY.maxDelayMs, DEFAULT_WEBHOOK_DELIVERY.baseDelayMs * 2 ** (k - 1))

async function rig(startMs: number) {
  const receiver = new WebhookReceiver(generateWebhookSecret())
  await receiver.reservePortAndGoDown()
  const clock = manualClock(startMs)
  const queue = new MemoryDeliveryQueue()
  const reports: (DeliveryReport & { atMs: number })[] = []
  // The production defaults: only the clock is injected.
  const deliverer = new WebhookDeliverer({
    queue,
    endpoints: resolveWebhookEndpoints([{ id: 'siem', url: receiver.url, secret: receiver.secret }]),
    clock,
    onReport: (r) => reports.push({ ...r, atMs: clock.nowMs() }),
  })
  await queue.enqueue([{ messageId: 'msg_outage', destination: 'siem', payload: JSON.stringify({ type: 'user.banned', timestamp: new Date(startMs).toISOString(), data: { userId: 'u1' } }) }], startMs)
  /** Polls once per simulated second until `done` or `untilMs`. */
  const runUntil = async (untilMs: number, done: () => boolean) => {
    while (clock.nowMs() <= untilMs && !done()) {
      await deliverer.runOnce()
      clock.advance(STEP_MS)
    }
  }
  return { receiver, clock, queue, reports, runUntil }
}

/** Every gap between attempts k and k+1 is the schedule's delay for k, 80-100% of it (jitter), to the polling step. */
function assertSchedule(reports: { attempt: number; atMs: number }[]): void {
  for (let i = 1; i < reports.length; i++) {
    const k = reports[i - 1]!.attempt
    assert.equal(reports[i]!.attempt, k + 1)
    const gap = reports[i]!.atMs - reports[i - 1]!.atMs
    assert.ok(gap >= 0.8 * nominalDelayMs(k) && gap <= nominalDelayMs(k) + STEP_MS, `gap after attempt ${k}: ${gap} ms, schedule ${nominalDelayMs(k)} ms`)
  }
}

void test('a receiver down for 12 minutes gets the event after it comes back, on the production schedule, once', async () => {
  // The receiver checks the signed timestamp against its own (real) clock within 5 minutes, so the simulated
  // recovery is placed near real time: the outage starts about 20 minutes in the past.
  const outageMs = 12 * 60_000
  const t0 = Date.now() - 20 * 60_000
  const { receiver, clock, queue, reports, runUntil } = await rig(t0)
  try {
    await runUntil(t0 + outageMs, () => false)
    const failures = reports.filter((r) => r.outcome === 'retry')
    // 0, 5, 15, 35, 75, 155, 315 and 635 s (less with jitter): 8 attempts in the first 12 minutes, none after 11.
    assert.equal(failures.length, 8)
    assert.ok(failures.every((r) => r.error === 'ECONNREFUSED'))
    assert.equal(await queue.depth(), 1)
    await receiver.listen()
    // The next attempt is at most 1275 s after the first (8 doublings of 5 s).
    await runUntil(t0 + 1275_000 + STEP_MS, () => reports.some((r) => r.outcome === 'delivered'))
    const delivered = reports.filter((r) => r.outcome === 'delivered')
    assert.equal(delivered.length, 1)
    assert.ok(delivered[0]!.atMs >= t0 + outageMs, 'delivered after the receiver came back')
    assertSchedule(reports)
    assert.equal(await queue.depth(), 0)
    assert.deepEqual([...receiver.acknowledged], [['msg_outage', 1]])
    assert.equal(receiver.badSignatures, 0)
    assert.deepEqual(await queue.deadLetters(10), [])
    // Nothing more is sent: later polls find an empty queue.
    await runUntil(clock.nowMs() + 3_600_000, () => false)
    assert.equal(reports.length, failures.length + 1)
  } finally {
    await receiver.close()
  }
})

void test('a receiver down past the last attempt: 12 attempts over about 2.4 hours, then a dead letter at the 12th', async () => {
  const t0 = Date.UTC(2026, 11, 2, 12)
  const { receiver, queue, reports, runUntil } = await rig(t0)
  try {
    // 5+10+20+...+2560 s, then 3600 s (5120 capped): 8715 s from the first attempt to the 12th.
    const lastMs = [...Array(DEFAULT_WEBHOOK_DELIVERY.maxAttempts - 1).keys()].reduce((sum, i) => sum + nominalDelayMs(i + 1), 0)
    assert.equal(lastMs, 8_715_000)
    await runUntil(t0 + 6 * 3_600_000, () => reports.some((r) => r.outcome === 'dead'))
    assert.deepEqual(
      reports.map((r) => [r.attempt, r.outcome]),
      [...Array(12).keys()].map((i) => [i + 1, i === 11 ? 'dead' : 'retry']),
    )
    assertSchedule(reports)
    const deadAtMs = reports.at(-1)!.atMs
    assert.ok(deadAtMs - t0 >= 0.8 * lastMs && deadAtMs - t0 <= lastMs + 11 * STEP_MS, `dead-lettered ${deadAtMs - t0} ms after the first attempt`)
    const [dead] = await queue.deadLetters(10)
    assert.deepEqual([dead?.messageId, dead?.attempt, dead?.error, dead?.queuedAtMs, dead?.failedAtMs], ['msg_outage', 12, 'ECONNREFUSED', t0, deadAtMs])
    assert.equal(await queue.depth(), 0)
  } finally {
    await receiver.close()
  }
})
