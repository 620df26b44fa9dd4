// The shared-timer deadlines against a stalled event loop: a reply that is
// already waiting in its socket when the process wakes up wins over the
// deadline that expired during the stall (timers run before I/O is polled).
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createConnection, createServer, type Socket } from 'node:net'
import { test } from 'node:test'
import { Deadlines } from '../deadlines.js'

function stall(ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until);
}

void test('a reply that arrived during a stall of the event loop is delivered, not refused as a timeout', async (t) => {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const accepted = once(server, 'connection') as Promise<[Socket]>
  const client = createConnection((server.address() as { port: number }).port, '127.0.0.1')
  const [peer] = await accepted
  t.after(() => {
    client.destroy()
    peer.destroy()
    server.close()
  })
  const deadlines = new Deadlines(20)
  const reply = deadlines.bound(new Promise<string>((resolve) => client.once('data', (chunk: Buffer) => resolve(chunk.toString()))))
  peer.write('pong')
  // The deadline passes while the process is busy; the reply is in the client's socket by then.
  stall(150)
  assert.equal(await reply, 'pong')
})

void test('with no reply the deadline still refuses, naming the limit and the wait', async () => {
  const deadlines = new Deadlines(20)
  // The deadlines' own timer never keeps a process alive; a pending command would, through its socket.
  const socketStandIn = setInterval(() => undefined, 1000)
  try {
    await assert.rejects(deadlines.bound(new Promise(() => undefined)), { code: 'ERR_STORE_UNAVAILABLE', message: /within its 20 ms command time limit/ })
  } finally {
    clearInterval(socketStandIn)
  }
})

void test('a deadline fires at its limit, not a sweep interval later, for every call in flight', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'setImmediate', 'Date'], now: 1_000_000 })
  const deadlines = new Deadlines(1010)
  const refusedAt = new Map<string, number>()
  const call = (name: string) => {
    deadlines.bound(new Promise(() => undefined)).catch(() => refusedAt.set(name, Date.now() - 1_000_000))
  }
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }
  call('first')
  t.mock.timers.tick(7)
  call('second')
  // One that answers in time does not disturb the others' timers.
  let answer: (value: string) => void = () => undefined
  const answered = deadlines.bound(new Promise<string>((resolve) => (answer = resolve)))
  t.mock.timers.tick(1002)
  await settle()
  assert.equal(refusedAt.size, 0, 'nothing before its limit')
  answer('in time')
  assert.equal(await answered, 'in time')
  t.mock.timers.tick(1)
  await settle()
  assert.equal(refusedAt.get('first'), 1010, 'the first call is refused at 1010 ms, its limit')
  t.mock.timers.tick(6)
  await settle()
  assert.equal(refusedAt.has('second'), false)
  t.mock.timers.tick(1)
  await settle()
  assert.equal(refusedAt.get('second'), 1017, 'the second at its own limit, 1010 ms after it started')
})

void test('a call whose wait began earlier (startMs) is refused at its own limit, ahead of calls bound before it', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'setImmediate', 'Date'], now: 1_000_000 })
  const deadlines = new Deadlines(1000)
  const refusedAt = new Map<string, number>()
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }
  t.mock.timers.tick(300)
  deadlines.bound(new Promise(() => undefined)).catch(() => refusedAt.set('bound first', Date.now() - 1_000_000))
  t.mock.timers.tick(200)
  // A strict check that arrived at 100 ms and queued behind its batch until 500 ms: its limit counts from its arrival.
  deadlines.bound(new Promise(() => undefined), 1_000_100).catch(() => refusedAt.set('queued', Date.now() - 1_000_000))
  t.mock.timers.tick(599)
  await settle()
  assert.equal(refusedAt.size, 0, 'nothing before its limit')
  t.mock.timers.tick(1)
  await settle()
  assert.deepEqual([...refusedAt], [['queued', 1100]], 'the queued call at 1100 ms, 1000 ms after it arrived, before the call bound ahead of it')
  t.mock.timers.tick(199)
  await settle()
  assert.equal(refusedAt.has('bound first'), false)
  t.mock.timers.tick(1)
  await settle()
  assert.equal(refusedAt.get('bound first'), 1300, 'the other at its own limit')
})
