// Spans of cached mode's log following through an outage, with the SDK's in-memory exporter: one span for
// the first failed read and one for the recovery (not one per retry), none for idle reads, and the verify
// spans that noticed the set go untrusted and trusted again.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { SpanStatusCode, trace } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { SigningKeySet, type Tessera } from '@tessera/core'
import type { RedisSessionStore } from '@tessera/redis'
import { SHARED_REDIS_URL, redisStoreForTest, waitFor } from '../../../../test/support/redis.js'
import { startTcpProxy, type TcpProxy } from '../../../../test/support/tcp-proxy.js'
import { createVerifier } from '../create-verifier.js'
import { AUDIENCE, ISSUER, tesseraFor } from './fixtures.js'

const exporter = new InMemorySpanExporter()
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
const spans = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name)

describe('log-following spans', () => {
  let keys: SigningKeySet
  let tessera: Tessera
  let store: RedisSessionStore
  let prefix: string
  let cleanup: () => Promise<void>
  let proxy: TcpProxy

  before(async () => {
    const redis = await redisStoreForTest('otel-log')
    ;({ store, prefix } = redis)
    cleanup = () => redis.cleanup()
    keys = await SigningKeySet.generate()
    tessera = await tesseraFor(store, keys)
    const target = new URL(SHARED_REDIS_URL)
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) })
  })
  after(async () => {
    await tessera.close()
    await proxy.close()
    await cleanup()
  })

  test('an outage is one failed read span and one recovery span; idle reads make none; verify spans say when the set was untrusted', async (t) => {
    const verifier = await createVerifier({
      mode: 'cached',
      keys,
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['ES256'],
      redis: { url: proxy.through(SHARED_REDIS_URL), keyPrefix: prefix, commandTimeoutMs: 300 },
      log: { blockMs: 150, maxStalenessMs: 400, retryMs: 30 },
    })
    t.after(() => verifier.close())
    const login = await tessera.createSession({ userId: 'otel-outage' })
    await verifier.verify(login.accessToken)
    assert.equal(spans('tessera.revocation_log.load')[0]?.attributes['tessera.revocation_log.load_reason'], 'start')

    // Idle: several blocking reads come back empty (or with a heartbeat only), and none is a span.
    exporter.reset()
    await new Promise((resolve) => setTimeout(resolve, 600))
    // Reads went on meanwhile (each returned within the block time): the follower was in contact, not stalled.
    assert.equal(verifier.metrics().logState, 'live')
    assert.ok(verifier.metrics().timeSinceLastLogContactMs! < 400)
    assert.equal(spans('tessera.revocation_log.read').length, 0)

    proxy.cut()
    await waitFor(() => verifier.metrics().logReadErrors >= 3 && verifier.metrics().timeSinceLastLogContactMs! > 400, 5000)
    // The set is not trusted now: the request falls back to the store (which is cut off too) and says why.
    await assert.rejects(verifier.verify(login.accessToken), { code: 'ERR_STORE_UNAVAILABLE' })
    const fallback = spans('tessera.verify').at(-1)!
    assert.equal(fallback.attributes['tessera.verify.fallback'], 'untrusted')
    assert.ok(fallback.events.some((e) => e.name === 'tessera.revocation_set.untrusted'))
    assert.equal(fallback.attributes['error.type'], 'ERR_STORE_UNAVAILABLE')
    const failed = spans('tessera.revocation_log.read')
    assert.equal(failed.length, 1, `one span for the whole streak of ${verifier.metrics().logReadErrors} failed reads`)
    assert.equal(failed[0]!.status.code, SpanStatusCode.ERROR)
    assert.equal(failed[0]!.attributes['error.type'], 'ERR_STORE_UNAVAILABLE')
    assert.equal(failed[0]!.parentSpanContext, undefined)

    proxy.restore()
    await waitFor(() => verifier.trustsRevocationState(), 5000)
    const recovered = spans('tessera.revocation_log.read').filter((s) => s.status.code !== SpanStatusCode.ERROR)
    assert.equal(recovered.length, 1)
    assert.ok(Number(recovered[0]!.attributes['tessera.revocation_log.failed_reads']) >= 3)
    await verifier.verify(login.accessToken)
    const back = spans('tessera.verify').at(-1)!
    assert.ok(back.events.some((e) => e.name === 'tessera.revocation_set.trusted'))
    assert.equal(back.attributes['tessera.verify.fallback'], undefined)
    assert.equal(back.attributes['tessera.outcome'], 'valid')
  })
})
