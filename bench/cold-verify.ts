// Cold verification (no cache) per algorithm, one core: raw node:crypto
// signature check vs jose vs fast-jwt vs Tessera's verifier.
// Run pinned: taskset -c 1 node --import tsx bench/cold-verify.ts [--time-ms 800]
import { createPublicKey, createSecretKey, verify as cryptoVerify, createHmac, KeyObject } from 'node:crypto'
import { createVerifier as createFastJwtVerifier } from 'fast-jwt'
import { importJWK, jwtVerify } from 'jose'
import { Bench } from 'tinybench'
import { issueAccessToken } from '../src/core/access-token.js'
import { formatSessionId, newLocalSessionId, newTokenId } from '../src/core/ids.js'
import { SigningKeySet, type SigningAlgorithm } from '../src/core/signing-keys.js'
import { createVerifier } from '../src/verifier/verifier.js'

const timeMs = Number(process.argv[process.argv.indexOf('--time-ms') + 1]) || 800
const ISSUER = 'https://auth.bench'
const AUDIENCE = 'api'
const algorithms: SigningAlgorithm[] = ['ES256', 'EdDSA', 'RS256', 'HS256']

interface Row {
  alg: SigningAlgorithm
  raw: number
  jose: number
  fastJwt: number
  tessera: number
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
  // Every contender must accept the token before it is timed.
  if (!raw()) throw new Error(`${alg}: raw verify failed`)
  await jwtVerify(token, joseKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg], typ: 'at+jwt' })
  fast(token)
  await tessera.verify(token)

  const bench = new Bench({ time: timeMs, warmupTime: 200 })
  bench
    .add('raw', () => {
      raw()
    })
    .add('jose', async () => {
      await jwtVerify(token, joseKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg], typ: 'at+jwt' })
    })
    .add('fast-jwt', () => {
      fast(token)
    })
    .add('tessera', async () => {
      await tessera.verify(token)
    })
  await bench.run()
  const hz = (name: string) => (bench.tasks.find((t) => t.name === name)!.result as unknown as { throughput: { mean: number } }).throughput.mean
  await tessera.close()
  return { alg, raw: hz('raw'), jose: hz('jose'), fastJwt: hz('fast-jwt'), tessera: hz('tessera') }
}

const rows: Row[] = []
for (const alg of algorithms) rows.push(await measure(alg))
const k = (n: number) => `${(n / 1000).toFixed(1)}k`
console.log(`\nCold verification, ops/s on one core (tinybench, ${timeMs} ms per task, cache off)\n`)
console.log('| alg | raw node:crypto | jose | fast-jwt | Tessera | Tessera / raw | jose / raw | fast-jwt / raw |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of rows) {
  console.log(`| ${r.alg} | ${k(r.raw)} | ${k(r.jose)} | ${k(r.fastJwt)} | ${k(r.tessera)} | ${(r.tessera / r.raw).toFixed(2)} | ${(r.jose / r.raw).toFixed(2)} | ${(r.fastJwt / r.raw).toFixed(2)} |`)
}
