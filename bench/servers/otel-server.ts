// One server of the OpenTelemetry overhead benchmark; started by bench/otel-overhead.ts.
// Usage: node --conditions=tessera-source --import tsx bench/servers/otel-server.ts <strict|cached>
// Environment: BENCH_OTEL = off (run with TESSERA_TRACING=off: Tessera makes no span calls), api (the API
// with no SDK: what every install does), sdk (an SDK registered, every span recorded and dropped by a
// batch processor's no-op exporter); BENCH_KEYS, BENCH_REDIS_URL, BENCH_PREFIX, BENCH_ISSUER, BENCH_AUDIENCE.
import Fastify from 'fastify'
import { SigningKeySet } from '@tessera/core'
import { createVerifier } from '@tessera/verifier'
import { tesseraFastify } from '@tessera/verifier/fastify'
import { announceReady } from '../lib/processes.js'

const mode = process.argv[2] as 'strict' | 'cached'
const otel = process.env.BENCH_OTEL ?? 'api'
const env = (name: string) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is required`)
  return value
}
if (otel === 'off' && process.env.TESSERA_TRACING !== 'off') throw new Error('BENCH_OTEL=off needs TESSERA_TRACING=off')
if (otel === 'sdk') {
  const { context, trace } = await import('@opentelemetry/api')
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks')
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base')
  // What a production SDK does per span (sampling, ids, attributes, the batch queue), minus the network.
  const dropping = { export: (_spans: unknown[], done: (result: { code: number }) => void) => done({ code: 0 }), shutdown: async () => {} }
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropping, { maxQueueSize: 65_536 })] }))
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
}

const verifier = await createVerifier({
  mode,
  keys: await SigningKeySet.fromJSON(env('BENCH_KEYS')),
  issuer: env('BENCH_ISSUER'),
  audience: env('BENCH_AUDIENCE'),
  algorithms: ['ES256'],
  redis: { url: env('BENCH_REDIS_URL'), keyPrefix: env('BENCH_PREFIX') },
})
const app = Fastify({ logger: false })
await app.register(tesseraFastify, { verifier, closeVerifier: true })
app.get('/hello', async () => ({ hello: 'world' }))
// Not protected: the driver reads this process's CPU time around each run.
app.get('/__cpu', { config: { tessera: false } }, async () => process.cpuUsage())
const url = await app.listen({ port: 0, host: '127.0.0.1' })
announceReady({ url }, () => app.close())
