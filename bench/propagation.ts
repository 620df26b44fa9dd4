// Revocation propagation: revoke through the library in this process; three
// cached-mode verifier processes must reject the token. Latency per revocation
// = from revokeSession()'s return to the last of the three rejecting, over N
// revocations; p50/p99/max. Each verifier stamps its rejection on the shared
// monotonic clock; the driver also notes when each report arrived (adds IPC).
//   node --conditions=tessera-source --import tsx bench/propagation.ts [--revocations 1000] [--verifiers 3]
import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createTessera, SigningKeySet } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { deleteKeys, startPrivateRedis, type PrivateRedis } from '../test/support/redis.js'
import { CODE_FLAGS } from './lib/processes.js'

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`)
  return at > 0 ? Number(process.argv[at + 1]) : fallback
}
const REVOCATIONS = arg('revocations', 1000)
const VERIFIERS = arg('verifiers', 3)
const PREFIX = `bench:prop:${randomBytes(4).toString('hex')}:`
const ISSUER = 'https://auth.bench'
const AUDIENCE = 'api'
// CLOCK_MONOTONIC in ms: the same clock in every process on this machine (performance.timeOrigin is not:
// it is fixed from the wall clock at each process's start and was seen several ms apart between processes).
const now = () => Number(process.hrtime.bigint()) / 1e6

interface Message {
  type: 'ready' | 'watching' | 'rejected' | 'error'
  id?: number
  atMs?: number
  code?: string
}

// A private redis-server, so other people's Redis traffic is not in the figures; TESSERA_BENCH_REDIS_URL uses an existing one.
const privateRedis: PrivateRedis | null = process.env.TESSERA_BENCH_REDIS_URL ? null : await startPrivateRedis()
const REDIS_URL = process.env.TESSERA_BENCH_REDIS_URL ?? privateRedis!.url
const keys = await SigningKeySet.generate({ alg: 'ES256' })
const store = await RedisSessionStore.connect({ url: REDIS_URL, keyPrefix: PREFIX })
const children: ChildProcess[] = []
try {
  const tessera = await createTessera({ store, keys, issuer: ISSUER, audience: AUDIENCE, tokenKey: randomBytes(32), maxSessions: 60 })
  const sessions = []
  for (let i = 0; i < REVOCATIONS; i += 100) {
    sessions.push(...(await Promise.all(Array.from({ length: Math.min(100, REVOCATIONS - i) }, (_, j) => tessera.createSession({ userId: `user-${(i + j) % 500}` })))))
  }
  const env = { ...process.env, BENCH_KEYS: JSON.stringify(keys.toJSON()), BENCH_REDIS_URL: REDIS_URL, BENCH_PREFIX: PREFIX, BENCH_ISSUER: ISSUER, BENCH_AUDIENCE: AUDIENCE }
  for (let i = 0; i < VERIFIERS; i++) children.push(fork('bench/propagation-verifier.ts', [], { env, execArgv: [...CODE_FLAGS, '--import', 'tsx'] }))

  // One waiter per (kind, id): resolves when every child has sent it, with each child's stamp and when it arrived.
  interface Arrivals {
    stamped: number[]
    received: number[]
  }
  const pending = new Map<string, { left: number; arrivals: Arrivals; resolve: (arrivals: Arrivals) => void }>()
  const expect = (key: string) => new Promise<Arrivals>((resolve) => pending.set(key, { left: VERIFIERS, arrivals: { stamped: [], received: [] }, resolve }))
  for (const child of children) {
    child.on('message', (message: Message) => {
      if (message.type === 'error') throw new Error(`verifier refused a live token: ${message.code}`)
      const key = `${message.type}:${message.id ?? ''}`
      const waiter = pending.get(key)
      if (!waiter) return
      waiter.arrivals.received.push(now())
      if (message.atMs !== undefined) waiter.arrivals.stamped.push(message.atMs)
      if (--waiter.left === 0) {
        pending.delete(key)
        waiter.resolve(waiter.arrivals)
      }
    })
  }
  await expect('ready:')

  const stamped: number[] = []
  const received: number[] = []
  const started = Date.now()
  for (let id = 0; id < sessions.length; id++) {
    const { accessToken, sessionId } = sessions[id]!
    const watching = expect(`watching:${id}`)
    for (const child of children) child.send({ type: 'watch', id, token: accessToken })
    await watching
    const rejected = expect(`rejected:${id}`)
    await tessera.revokeSession(sessionId)
    const returnedAt = now()
    const arrivals = await rejected
    stamped.push(Math.max(...arrivals.stamped) - returnedAt)
    received.push(Math.max(...arrivals.received) - returnedAt)
  }
  const elapsed = Date.now() - started
  const pct = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)]!
  const fmt = (v: number) => v.toFixed(2)
  console.log(`\nRevocation propagation, ${REVOCATIONS} revocations, ${VERIFIERS} cached-mode verifier processes, loopback Redis ${privateRedis ? '(private)' : REDIS_URL} (${elapsed} ms total)\n`)
  console.log('| measured | p50 ms | p99 ms | max ms |')
  console.log('| --- | ---: | ---: | ---: |')
  console.log(`| revoke returned -> all ${VERIFIERS} rejected (stamped in each verifier, shared monotonic clock) | ${fmt(pct(stamped, 50))} | ${fmt(pct(stamped, 99))} | ${fmt(Math.max(...stamped))} |`)
  console.log(`| revoke returned -> all ${VERIFIERS} reports received by the driver (adds IPC delivery) | ${fmt(pct(received, 50))} | ${fmt(pct(received, 99))} | ${fmt(Math.max(...received))} |`)
} finally {
  for (const child of children) {
    if (child.exitCode === null && child.pid) {
      child.send({ type: 'stop' })
      const timer = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 3000)
      await once(child, 'exit')
      clearTimeout(timer)
    }
  }
  await store.close()
  if (privateRedis) await privateRedis.stop()
  else await deleteKeys(REDIS_URL, PREFIX)
}
