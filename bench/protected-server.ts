// One server of the protected-route benchmark; started by protected-route.ts.
// Usage: node --conditions=tessera-source --import tsx bench/protected-server.ts <none|redis-roundtrip|fastify-jwt|signature|strict|cached>
// Environment: BENCH_KEYS (SigningKeySet JSON), BENCH_REDIS_URL, BENCH_PREFIX, BENCH_ISSUER, BENCH_AUDIENCE;
// BENCH_VERIFY_CACHE=off turns the verified-token cache off (every request checks the token's signature).
import { createPublicKey } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import fastifyJwt from '@fastify/jwt'
import Fastify from 'fastify'
import { createClient } from 'redis'
import { SigningKeySet } from '@tessera/core'
import { tesseraFastify } from '@tessera/verifier/fastify'
import { createVerifier } from '@tessera/verifier'

const variant = process.argv[2] ?? 'none'
const env = (name: string) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is required`)
  return value
}
const keys = await SigningKeySet.fromJSON(env('BENCH_KEYS'))
const issuer = env('BENCH_ISSUER')
const audience = env('BENCH_AUDIENCE')
const app = Fastify({ logger: false })

if (variant === 'fastify-jwt') {
  const { d: _d, ...publicJwk } = keys.toJSON().keys[0]!.privateJwk
  const pem = createPublicKey({ key: publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string
  await app.register(fastifyJwt, { secret: { public: pem }, verify: { algorithms: ['ES256'], allowedIss: issuer, allowedAud: audience } })
  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/__cpu') return
    try {
      await request.jwtVerify()
    } catch {
      return reply.code(401).send({ error: 'invalid_token' })
    }
  })
} else if (variant === 'redis-roundtrip') {
  // The floor of strict mode: one node-redis command per request (auto-pipelined like any client's), verifying
  // nothing. Whatever a per-request store check costs beyond the route, this already pays most of it.
  const client = createClient({ url: env('BENCH_REDIS_URL') })
  await client.connect()
  const key = `${env('BENCH_PREFIX')}floor`
  app.addHook('onRequest', async (request) => {
    if (request.url === '/__cpu') return
    await client.exists(key)
  })
  app.addHook('onClose', async () => {
    await client.close()
  })
} else if (variant !== 'none') {
  const verifier = await createVerifier({
    mode: variant as 'signature' | 'strict' | 'cached',
    keys,
    issuer,
    audience,
    algorithms: ['ES256'],
    ...(variant === 'signature' ? {} : { redis: { url: env('BENCH_REDIS_URL'), keyPrefix: env('BENCH_PREFIX') } }),
    ...(process.env.BENCH_VERIFY_CACHE === 'off' ? { cache: false as const } : {}),
  })
  await app.register(tesseraFastify, { verifier, closeVerifier: true })
}

app.get('/hello', async () => ({ hello: 'world' }))
// Not protected: the driver reads this process's CPU time around each run.
app.get('/__cpu', { config: { tessera: false } }, async () => process.cpuUsage())
// Not protected: with BENCH_PROFILE set (a file path), the driver profiles a window it
// chooses (after warm-up), not the start-up and JIT that `node --cpu-prof` would include.
const profileTo = process.env.BENCH_PROFILE
if (profileTo) {
  const inspector = new Session()
  inspector.connect()
  app.post('/__profile/start', { config: { tessera: false } }, async () => {
    await inspector.post('Profiler.enable')
    await inspector.post('Profiler.start')
    return {}
  })
  app.post('/__profile/stop', { config: { tessera: false } }, async () => {
    const { profile } = await inspector.post('Profiler.stop')
    writeFileSync(profileTo, JSON.stringify(profile))
    return {}
  })
}

const address = await app.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(`READY ${address}\n`)
process.on('SIGTERM', () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
})
