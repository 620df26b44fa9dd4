// Cold verification (no cache) per algorithm, one core: raw node:crypto
// signature check vs jose vs fast-jwt vs Tessera's verifier vs the engine's own
// verifyAccessToken (what the auth server and introspection run).
// Run pinned: taskset -c 1 node --expose-gc --conditions=tessera-source --import tsx bench/cold-verify.ts [--time-ms 2000]
import { createPublicKey, createSecretKey, verify as cryptoVerify, createHmac, KeyObject } from 'node:crypto'
import { createVerifier as createFastJwtVerifier } from 'fast-jwt'
import { importJWK, jwtVerify } from 'jose'
import { createTessera, formatSessionId, issueAccessToken, newLocalSessionId, newTokenId, type SigningAlgorithm, SigningKeySet } from '@tessera/core'
import { createVerifier } from '@tessera/verifier'

const timeMs = Number(process.argv[process.argv.indexOf('--time-ms') + 1]) || 2000
const ISSUER = 'https://auth.bench'
const AUDIENCE = 'api'
const algorithms: SigningAlgorithm[] = ['ES256', 'EdDSA', 'RS256', 'HS256']

interface Row {
  alg: SigningAlgorithm
  raw: number
  jose: number
  fastJwt: number
  tessera: number
  engine: number
  /** Medians of the per-round ratios to raw. */
  ratios: { jose: number; fastJwt: number; tessera: number; engine: number }
}

async function measure(alg: SigningAlgorithm): Promise<Row> {
  const keys = await SigningKeySet.generate({ alg })
  const now = Date.now()
  const { token } = await issueAccessToken(keys, {
    userId: 'bench-user',
    sessionId: formatSessionId('bench-user', newLocalSessionId(now)),
    tokenId: newTokenId(),
    nowMs: now,
    ttlSeconds: 900,
    issuer: ISSUER,
    audience: AUDIENCE,
  })
  const record = keys.toJSON().keys[0]!
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = record.privateJwk
  const joseKey = alg === 'HS256' ? await importJWK(record.privateJwk, alg) : await importJWK(publicJwk, alg)
  const nodeKey: KeyObject = alg === 'HS256' ? createSecretKey(Buffer.from(record.privateJwk.k!, 'base64url')) : createPublicKey({ key: publicJwk as never, format: 'jwk' })
  const pem = alg === 'HS256' ? Buffer.from(record.privateJwk.k!, 'base64url') : nodeKey.export({ type: 'spki', format: 'pem' })
  const lastDot = token.lastIndexOf('.')
  const input = Buffer.from(token.slice(0, lastDot))
  const signature = Buffer.from(token.slice(lastDot + 1), 'base64url')
  const raw: () => boolean = {
    ES256: () => cryptoVerify('sha256', input, { key: nodeKey, dsaEncoding: 'ieee-p1363' }, signature),
    EdDSA: () => cryptoVerify(null, input, nodeKey, signature),
    RS256: () => cryptoVerify('sha256', input, nodeKey, signature),
    HS256: () => createHmac('sha256', nodeKey).update(input).digest().equals(signature),
  }[alg]
  const fast = createFastJwtVerifier({ key: pem as string, algorithms: [alg], allowedIss: ISSUER, allowedAud: AUDIENCE, cache: false })
  const tessera = await createVerifier({ mode: 'signature', keys, issuer: ISSUER, audience: AUDIENCE, algorithms: [alg], cache: false })
  // The engine has no verification cache: every call is cold.
  const engine = await createTessera({ keys, issuer: ISSUER, audience: AUDIENCE, algorithms: [alg] })
  // Every contender must accept the token before it is timed.
  if (!raw()) throw new Error(`${alg}: raw verify failed`)
  await jwtVerify(token, joseKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg], typ: 'at+jwt' })
  fast(token)
  await tessera.verify(token)
  await engine.verifyAccessToken(token, { mode: 'signature' })

  // Interleaved rounds: on a shared machine load drifts, and timing each contender
  // in turn within every round keeps the ratios fair; medians over rounds.
  const contenders: [keyof Omit<Row, 'alg' | 'ratios'>, () => unknown][] = [
    ['raw', raw],
    ['jose', () => jwtVerify(token, joseKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg], typ: 'at+jwt' })],
    ['fastJwt', () => fast(token)],
    // What the adapters call: synchronous whenever no I/O is needed, as here.
    ['tessera', () => tessera.verifyMaybeSync(token)],
    ['engine', () => engine.verifyAccessToken(token, { mode: 'signature' })],
  ]
  const gc = (globalThis as { gc?: () => void }).gc
  const run = async (fn: () => unknown, count: number) => {
    for (let i = 0; i < count; i++) {
      const result = fn()
      if (result instanceof Promise) await result
    }
  }
  // Warm-up, by time: each call spends most of its time in native crypto, so V8 needs thousands of calls to
  // optimise the JS around it. It also sizes each contender's batch to about 20 ms.
  const warmupMs = Math.max(300, timeMs / 2)
  const batches = new Map<string, number>()
  for (const [name, fn] of contenders) {
    let calls = 0
    const started = performance.now()
    while (performance.now() - started < warmupMs) {
      await run(fn, 100)
      calls += 100
    }
    batches.set(name, Math.max(10, Math.round((calls * 20) / (performance.now() - started))))
  }
  const samples: Record<string, number[]> = { raw: [], jose: [], fastJwt: [], tessera: [], engine: [] }
  const deadline = Date.now() + timeMs * contenders.length
  for (let round = 0; round < 3 || (Date.now() < deadline && round < 60); round++) {
    // Rotate the order and collect garbage before each batch, so no contender pays for another's allocations.
    for (let c = 0; c < contenders.length; c++) {
      const [name, fn] = contenders[(c + round) % contenders.length]!
      const batch = batches.get(name)!
      gc?.()
      // CPU time, not wall time: on a shared machine the wall clock also counts time spent descheduled.
      const started = process.cpuUsage()
      await run(fn, batch)
      const used = process.cpuUsage(started)
      samples[name]!.push((batch * 1e6) / (used.user + used.system))
    }
  }
  await tessera.close()
  await engine.close()
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  const ratio = (name: string) => median(samples[name]!.map((v, i) => v / samples.raw![i]!))
  return { alg, raw: median(samples.raw!), jose: median(samples.jose!), fastJwt: median(samples.fastJwt!), tessera: median(samples.tessera!), engine: median(samples.engine!), ratios: { jose: ratio('jose'), fastJwt: ratio('fastJwt'), tessera: ratio('tessera'), engine: ratio('engine') } }
}

const rows: Row[] = []
for (const alg of algorithms) rows.push(await measure(alg))
const k = (n: number) => `${(n / 1000).toFixed(1)}k`
console.log(`\nCold verification, ops per CPU-second on one core (interleaved rounds, about ${timeMs} ms per contender per algorithm, cache off; ratios are medians of per-round ratios)\n`)
console.log('| alg | raw node:crypto | jose | fast-jwt | Tessera | Tessera / raw | jose / raw | fast-jwt / raw | engine verifyAccessToken | engine / raw |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of rows) {
  console.log(`| ${r.alg} | ${k(r.raw)} | ${k(r.jose)} | ${k(r.fastJwt)} | ${k(r.tessera)} | ${r.ratios.tessera.toFixed(2)} | ${r.ratios.jose.toFixed(2)} | ${r.ratios.fastJwt.toFixed(2)} | ${k(r.engine)} | ${r.ratios.engine.toFixed(2)} |`)
}
