// One reader of the propagation benchmark's floor (propagation.ts): a bare node-redis client that blocks on
// XREAD of a stream and stamps each entry's arrival on the shared monotonic clock. No Tessera code: what any
// Node process following a Redis stream gets on this machine, before decoding, applying or verifying anything.
import { createClient } from 'redis'

const stamp = () => Number(process.hrtime.bigint()) / 1e6
const key = process.env.BENCH_FLOOR_STREAM!
const client = createClient({ url: process.env.BENCH_REDIS_URL! })
await client.connect()
let stopped = false

process.on('message', (command: { type: 'stop' }) => {
  if (command.type !== 'stop') return
  stopped = true
  // The blocked XREAD never returns by itself: closing the socket ends it.
  client.destroy()
  process.exit(0)
})

process.send!({ type: 'floor-ready' })
// From the start of the stream, then from each entry read: no entry is missed between two reads.
let position = '0-0'
while (!stopped) {
  // One XREAD per wakeup, as the verifier's follower does in its usual loop.
  const reply = await client.xRead({ key, id: position }, { BLOCK: 0, COUNT: 100 }).catch(() => null)
  const atMs = stamp()
  if (!reply) continue
  for (const stream of reply as { messages: { id: string; message: Record<string, string> }[] }[]) {
    for (const entry of stream.messages) {
      position = entry.id
      process.send!({ type: 'floor-received', id: Number(entry.message.id), atMs })
    }
  }
}
