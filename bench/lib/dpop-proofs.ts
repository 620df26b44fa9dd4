// DPoP proofs for the load generator, made with node:crypto so that making
// many of them before a timed window takes little time: ES256 keys, one
// header per key computed once, and a fresh `jti` and `iat` in each proof.
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto'
import { accessTokenHash } from '@tessera/core'

/** One client key: what a DPoP client keeps, plus its proof header already encoded. */
export interface BenchDpopKey {
  privateKey: KeyObject
  /** base64url of `{ typ: 'dpop+jwt', alg: 'ES256', jwk }`. */
  header: string
  /** RFC 7638 thumbprint: the `cnf.jkt` of the tokens bound to this key. */
  thumbprint: string
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** `count` fresh P-256 key pairs. */
export function newDpopKeys(count: number): BenchDpopKey[] {
  return Array.from({ length: count }, () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const { kty, crv, x, y } = publicKey.export({ format: 'jwk' })
    // RFC 7638: the required members in lexicographic order, no spaces.
    const thumbprint = createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url')
    return { privateKey, header: base64url({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } }), thumbprint }
  })
}

/** A proof for `method url` signed by `key`, with the hash of `accessToken` (`ath`) for resource requests. */
export function dpopProof(key: BenchDpopKey, method: string, url: string, accessToken?: string): string {
  const payload: Record<string, unknown> = { jti: randomUUID(), htm: method, htu: url, iat: Math.floor(Date.now() / 1000) }
  if (accessToken !== undefined) payload.ath = accessTokenHash(accessToken)
  const input = `${key.header}.${base64url(payload)}`
  // JWS ES256 wants r || s, not DER.
  return `${input}.${sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}
