// DPoP proofs for tests. Good proofs come from panva's `dpop` package (a stock
// client, not our code); the malformed ones an attacker would send are built
// by hand with jose, one knob per attack.
import { randomUUID } from 'node:crypto'
import { generateKeyPair, generateProof, type KeyPair } from 'dpop'
import { SignJWT, exportJWK, generateKeyPair as joseKeyPair, type JWTHeaderParameters } from 'jose'
import { accessTokenHash } from '@tessera/core'

export { generateKeyPair, generateProof, calculateThumbprint, type KeyPair } from 'dpop'

/** A fresh ES256 key pair, non-extractable, as a browser or a client library would hold it. */
export function newDpopKey(): Promise<KeyPair> {
  return generateKeyPair('ES256')
}

/** A stock proof for `method url` (with `ath` of `accessToken` and `nonce` when given). */
export function proof(key: KeyPair, method: string, url: string, options: { accessToken?: string; nonce?: string } = {}): Promise<string> {
  return generateProof(key, url, method, options.nonce, options.accessToken)
}

const base64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

/** A hand-made proof; every field can be bent. */
export async function craftProof(options: {
  method?: string
  url?: string
  iatSeconds?: number
  accessToken?: string
  ath?: string
  nonce?: string
  jti?: string
  typ?: string
  alg?: 'ES256' | 'HS256' | 'none'
  /** Put the private key in the header's jwk. */
  privateJwk?: boolean
  /** Sign with another key than the one in the header. */
  signWithOtherKey?: boolean
  padding?: number
}): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: options.jti ?? randomUUID(),
    htm: options.method ?? 'GET',
    htu: options.url ?? 'http://localhost/',
    iat: options.iatSeconds ?? Math.floor(Date.now() / 1000),
  }
  if (options.accessToken !== undefined) payload.ath = options.ath ?? accessTokenHash(options.accessToken)
  else if (options.ath !== undefined) payload.ath = options.ath
  if (options.nonce !== undefined) payload.nonce = options.nonce
  if (options.padding) payload.pad = 'x'.repeat(options.padding)
  const typ = options.typ ?? 'dpop+jwt'
  if (options.alg === 'none') {
    const { publicKey } = await joseKeyPair('ES256')
    return `${base64url({ alg: 'none', typ, jwk: await exportJWK(publicKey) })}.${base64url(payload)}.`
  }
  if (options.alg === 'HS256') {
    const secret = new TextEncoder().encode('a shared secret of at least 32 bytes!')
    // jose's types keep secret members out of a jwk header; an attacker's header does not care.
    const header = { alg: 'HS256', typ, jwk: { kty: 'oct', k: Buffer.from(secret).toString('base64url') } } as unknown as JWTHeaderParameters
    return new SignJWT(payload).setProtectedHeader(header).sign(secret)
  }
  const { publicKey, privateKey } = await joseKeyPair('ES256', { extractable: true })
  const other = await joseKeyPair('ES256')
  const jwk = options.privateJwk ? await exportJWK(privateKey) : await exportJWK(publicKey)
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ, jwk }).sign(options.signWithOtherKey ? other.privateKey : privateKey)
}
