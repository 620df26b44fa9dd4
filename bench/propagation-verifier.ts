// One cached-mode verifier process of the propagation benchmark; driven over IPC by propagation.ts.
import { Socket } from 'node:net'
import { PerformanceObserver } from 'node:perf_hooks'
import { SigningKeySet } from '@tessera/core'
import { createVerifier } from '@tessera/verifier'

type Command = { type: 'watch'; id: number; token: string } | { type: 'stop' } | { type: 'gcs' }

const keys = await SigningKeySet.fromJSON(process.env.BENCH_KEYS!)
const verifier = await createVerifier({
  mode: 'cached',
  keys,
  issuer: process.env.BENCH_ISSUER!,
  audience: process.env.BENCH_AUDIENCE!,
  algorithms: ['ES256'],
  redis: { url: process.env.BENCH_REDIS_URL!, keyPrefix: process.env.BENCH_PREFIX! },
})
let watched: { id: number; token: string } | null = null
const send = (message: unknown) => process.send!(message)
const stamp = () => Number(process.hrtime.bigint()) / 1e6

// --stages (BENCH_STAGES=1): where a refusal's time goes in this process. The newest socket 'data' event is the
// XREAD reply (the store's other connection is idle: the watched token is decided from the cache); 'applied' is the
// verifier's revocations event. GC pauses of this process are kept ([start on the shared clock, ms]) and sent when
// the driver asks. Off by default: the hook itself costs a little per read.
const STAGES = process.env.BENCH_STAGES === '1'
let dataAtMs = 0
let dataCpuUs = 0
let appliedAtMs = 0
const gcs: [number, number][] = []
if (STAGES) {
  // Wrapped, not replaced: every socket still emits through the original.
  const emit: (this: Socket, event: string | symbol, ...args: unknown[]) => boolean = Socket.prototype.emit // eslint-disable-line @typescript-eslint/unbound-method
  Socket.prototype.emit = function (this: Socket, event: string | symbol, ...args: unknown[]) {
    if (event === 'data') {
      dataAtMs = stamp()
      const cpu = process.cpuUsage()
      dataCpuUs = cpu.user + cpu.system
    }
    return emit.call(this, event, ...args)
  }
  const offset = stamp() - performance.now()
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcs.push([entry.startTime + offset, entry.duration])
  }).observe({ entryTypes: ['gc'] })
}

// Event-driven: each applied batch of log entries re-checks the watched token; no polling.
// Times are CLOCK_MONOTONIC (process.hrtime), which all processes on one machine share.
verifier.on('revocations', () => {
  if (STAGES) appliedAtMs = stamp()
  const current = watched
  if (!current) return
  verifier.verify(current.token).then(
    () => undefined,
    (err: { code?: string }) => {
      if (watched !== current) return
      watched = null
      const atMs = stamp()
      const cpu = STAGES ? process.cpuUsage() : null
      send({ type: 'rejected', id: current.id, atMs, code: err.code, ...(cpu ? { dataAtMs, appliedAtMs, cpuUs: cpu.user + cpu.system - dataCpuUs } : {}) })
    },
  )
})

process.on('message', (command: Command) => {
  if (command.type === 'gcs') {
    send({ type: 'gcs', gcs })
    return
  }
  if (command.type === 'stop') {
    verifier.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
    return
  }
  verifier.verify(command.token).then(
    () => {
      watched = command
      send({ type: 'watching', id: command.id })
    },
    (err: { code?: string }) => send({ type: 'error', id: command.id, code: err.code }),
  )
})
send({ type: 'ready' })
