// One cached-mode verifier process of the propagation benchmark; driven over IPC by propagation.ts.
import { SigningKeySet } from '@tessera/core'
import { createVerifier } from '@tessera/verifier'

type Command = { type: 'watch'; id: number; token: string } | { type: 'stop' }

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

// Event-driven: each applied batch of log entries re-checks the watched token; no polling.
// Times are CLOCK_MONOTONIC (process.hrtime), which all processes on one machine share.
verifier.on('revocations', () => {
  const current = watched
  if (!current) return
  verifier.verify(current.token).then(
    () => undefined,
    (err: { code?: string }) => {
      if (watched !== current) return
      watched = null
      send({ type: 'rejected', id: current.id, atMs: Number(process.hrtime.bigint()) / 1e6, code: err.code })
    },
  )
})

process.on('message', (command: Command) => {
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
