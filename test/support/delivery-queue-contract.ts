// One suite for every DeliveryQueue (memory and Redis), as store-contract.ts is for stores.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { DeliveryQueue } from '@tessera/core'

export function deliveryQueueContract(open: () => Promise<{ queue: DeliveryQueue; close(): Promise<void> }>): void {
  const T0 = 1_800_000_000_000
  const message = (n: number, destination = 'ep1') => ({ messageId: `msg_${n}`, destination, payload: `{"n":${n}}` })

  test('hands each item to one consumer and forgets it once acknowledged', async () => {
    const { queue, close } = await open()
    try {
      await queue.enqueue([message(1), message(2, 'ep2')], T0)
      const a = await queue.take('a', { count: 10, nowMs: T0, leaseMs: 60_000 })
      const b = await queue.take('b', { count: 10, nowMs: T0, leaseMs: 60_000 })
      assert.deepEqual(a.map((i) => [i.messageId, i.destination, i.payload, i.attempt, i.queuedAtMs]), [['msg_1', 'ep1', '{"n":1}', 1, T0], ['msg_2', 'ep2', '{"n":2}', 1, T0]])
      assert.equal(b.length, 0)
      assert.equal(await queue.depth(), 2)
      for (const item of a) await queue.ack(item)
      assert.equal(await queue.depth(), 0)
      assert.equal((await queue.take('b', { count: 10, nowMs: T0, leaseMs: 0 })).length, 0)
    } finally {
      await close()
    }
  })

  test('a retry waits for its time and comes back one attempt further, same message id', async () => {
    const { queue, close } = await open()
    try {
      await queue.enqueue([message(3)], T0)
      const [first] = await queue.take('a', { count: 1, nowMs: T0, leaseMs: 60_000 })
      await queue.retry(first!, { atMs: T0 + 5000, nowMs: T0 })
      assert.equal((await queue.take('a', { count: 1, nowMs: T0 + 4999, leaseMs: 60_000 })).length, 0)
      const [again] = await queue.take('b', { count: 1, nowMs: T0 + 5000, leaseMs: 60_000 })
      assert.equal(again?.messageId, 'msg_3')
      assert.equal(again?.attempt, 2)
      assert.equal(again?.queuedAtMs, T0)
      await queue.ack(again)
      assert.equal(await queue.depth(), 0)
    } finally {
      await close()
    }
  })

  test('an item its taker never settled goes to another consumer after the lease; the late settle is a no-op', async () => {
    const { queue, close } = await open()
    try {
      await queue.enqueue([message(4)], T0)
      const [held] = await queue.take('crashed', { count: 1, nowMs: T0, leaseMs: 60_000 })
      assert.equal((await queue.take('other', { count: 1, nowMs: T0, leaseMs: 60_000 })).length, 0, 'inside the lease')
      const [taken] = await queue.take('other', { count: 1, nowMs: T0, leaseMs: 0 })
      assert.equal(taken?.messageId, 'msg_4')
      await queue.ack(taken)
      await queue.retry(held!, { atMs: T0, nowMs: T0 })
      assert.equal(await queue.depth(), 0, 'a late retry of a settled item schedules nothing')
      assert.equal((await queue.take('other', { count: 1, nowMs: T0 + 1, leaseMs: 0 })).length, 0)
    } finally {
      await close()
    }
  })

  test('a dead letter leaves the queue and is listed newest first', async () => {
    const { queue, close } = await open()
    try {
      await queue.enqueue([message(5), message(6)], T0)
      const taken = await queue.take('a', { count: 2, nowMs: T0, leaseMs: 60_000 })
      for (const item of taken) await queue.deadLetter(item, { nowMs: T0 + 1, error: `HTTP 500 for ${item.messageId}` })
      assert.equal(await queue.depth(), 0)
      const dead = await queue.deadLetters(10)
      assert.deepEqual(dead.map((d) => [d.messageId, d.destination, d.attempt, d.failedAtMs, d.error]), [['msg_6', 'ep1', 1, T0 + 1, 'HTTP 500 for msg_6'], ['msg_5', 'ep1', 1, T0 + 1, 'HTTP 500 for msg_5']])
    } finally {
      await close()
    }
  })
}
