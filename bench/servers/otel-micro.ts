// In-process cost of one verification on the cheapest path (signature mode, a token already in the
// verified-token cache), where a span call weighs most; started by bench/otel-overhead.ts with
// TESSERA_TRACING=off or without it (the API, no SDK). Prints READY {"nsPerVerify": ...} (CPU time per call).
// Usage: node --conditions=tessera-source --import tsx bench/servers/otel-micro.ts <iterations>
import { createTessera, SigningKeySet } from '@tessera/core'
import { createVerifier } from '@tessera/verifier'
import { announceReady } from '../lib/processes.js'

const iterations = Number(process.argv[2] ?? 1_000_000)
const keys = await SigningKeySet.generate({ alg: 'ES256' })
const auth = await createTessera({ keys, issuer: 'https://auth.bench', audience: 'api', heartbeatIntervalMs: 0 })
const { accessToken } = await auth.createSession({ userId: 'u-micro' })
const verifier = await createVerifier({ mode: 'signature', keys, issuer: 'https://auth.bench', audience: 'api', algorithms: ['ES256'] })
let sink = 0
const loop = (n: number) => {
  for (let i = 0; i < n; i++) {
    const claims = verifier.verifyMaybeSync(accessToken)
    if (!(claims instanceof Promise)) sink += claims.expiresAt & 1
  }
}
loop(Math.min(200_000, iterations))
// CPU time, not wall time: on a shared machine the loop is preempted, and CPU time leaves that out.
const before = process.cpuUsage()
loop(iterations)
const used = process.cpuUsage(before)
const nsPerVerify = ((used.user + used.system) * 1000) / iterations
announceReady({ nsPerVerify, sink }, async () => {
  await verifier.close()
  await auth.close()
})
