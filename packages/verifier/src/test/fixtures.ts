// Shared by the verifier and middleware tests: a Tessera that issues real
// tokens, and a table of tokens every verifier must refuse.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { SignJWT, base64url } from 'jose'
import { createTessera, issueAccessToken, newTokenId, type SessionStore, SigningKeySet, type Tessera } from '@tessera/core'
// Not exported by @tessera/core: only tests forge high-S signatures.
import { toLowS } from '../../../core/src/ecdsa-low-s.js'

export const ISSUER = 'https://auth.test'
export const AUDIENCE = 'api'

export async function tesseraFor(store: SessionStore, keys?: SigningKeySet): Promise<Tessera> {
  return createTessera({ store, keys: keys ?? (await SigningKeySet.generate({ alg: 'ES256' })), issuer: ISSUER, audience: AUDIENCE, tokenKey: randomBytes(32), accessTokenTtlSeconds: 300 })
}

export async function rejectsWith(promise: Promise<unknown>, code: string, label = ''): Promise<void> {
  await assert.rejects(promise, (err: { code?: string }) => {
    assert.equal(err.code, code, `${label}: expected ${code}, got ${err.code}`)
    return true
  })
}

const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n

/** The same ES256 signature with s replaced by n - s: a different string that still verifies. */
export function malleate(token: string): string {
  const [h, p, s] = token.split('.') as [string, string, string]
  const sig = Buffer.from(s, 'base64url')
  const sValue = BigInt(`0x${sig.subarray(32).toString('hex')}`)
  const flipped = Buffer.from((P256_ORDER - sValue).toString(16).padStart(64, '0'), 'hex')
  return `${h}.${p}.${Buffer.concat([sig.subarray(0, 32), flipped]).toString('base64url')}`
}

/** The token with its ES256 signature in low-S form, as the issuer signs (jose/WebCrypto produce either). */
export function lowS(token: string): string {
  const [h, p, s] = token.split('.') as [string, string, string]
  return `${h}.${p}.${toLowS(Buffer.from(s, 'base64url')).toString('base64url')}`
}

/** The signature's last character changed in its spare bits only: the same bytes, spelled differently. */
export function respell(token: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const index = alphabet.indexOf(token.at(-1)!)
  return token.slice(0, -1) + alphabet[index ^ 1]!
}

/**
 * Tokens for the session of `good` that every mode must refuse, with the code
 * expected for each.
 */
export async function badTokens(keys: SigningKeySet, good: string): Promise<{ name: string; token: string; code: string }[]> {
  const [h, p, s] = good.split('.') as [string, string, string]
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as { sub: string; sid: string }
  const base = { userId: payload.sub, sessionId: payload.sid, tokenId: newTokenId(), issuer: ISSUER, audience: AUDIENCE, ttlSeconds: 300 }
  const { keyId } = keys.current()
  const enc = (o: unknown) => base64url.encode(JSON.stringify(o))
  const claims = { iss: ISSUER, aud: AUDIENCE, sub: payload.sub, sid: payload.sid, jti: newTokenId(), iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300 }
  const other = await SigningKeySet.generate({ alg: 'ES256' })
  const ed = await SigningKeySet.generate({ alg: 'EdDSA' })
  return [
    { name: 'expired', token: (await issueAccessToken(keys, { ...base, nowMs: Date.now() - 600_000, ttlSeconds: 60 })).token, code: 'ERR_ACCESS_TOKEN_EXPIRED' },
    { name: 'wrong audience', token: (await issueAccessToken(keys, { ...base, nowMs: Date.now(), audience: 'other-api' })).token, code: 'ERR_ACCESS_TOKEN_INVALID' },
    { name: 'wrong issuer', token: (await issueAccessToken(keys, { ...base, nowMs: Date.now(), issuer: 'https://evil.test' })).token, code: 'ERR_ACCESS_TOKEN_INVALID' },
    { name: 'unknown kid', token: (await issueAccessToken(other, { ...base, nowMs: Date.now() })).token, code: 'ERR_ACCESS_TOKEN_INVALID' },
    {
      name: 'wrong alg (HS256 under the ES256 kid)',
      token: await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: keyId, typ: 'at+jwt' }).sign(randomBytes(32)),
      code: 'ERR_ACCESS_TOKEN_INVALID',
    },
    {
      name: 'alg mismatch (EdDSA token under the ES256 kid)',
      token: await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: keyId, typ: 'at+jwt' }).sign(ed.current().privateKey),
      code: 'ERR_ACCESS_TOKEN_INVALID',
    },
    { name: 'alg none', token: `${enc({ alg: 'none', kid: keyId, typ: 'at+jwt' })}.${p}.`, code: 'ERR_ACCESS_TOKEN_INVALID' },
    { name: 'alg NONE', token: `${enc({ alg: 'NONE', kid: keyId, typ: 'at+jwt' })}.${p}.${s}`, code: 'ERR_ACCESS_TOKEN_INVALID' },
    { name: 'wrong typ', token: await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: keyId, typ: 'JWT' }).sign(keys.current().privateKey), code: 'ERR_ACCESS_TOKEN_INVALID' },
    { name: 'jku header', token: await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: keyId, typ: 'at+jwt', jku: 'https://evil.test/jwks' }).sign(keys.current().privateKey), code: 'ERR_ACCESS_TOKEN_INVALID' },
    { name: 're-spelled signature', token: respell(good), code: 'ERR_ACCESS_TOKEN_INVALID' },
    { name: 'padded signature', token: `${good}=`, code: 'ERR_ACCESS_TOKEN_INVALID' },
    { name: 'tampered payload', token: `${h}.${enc({ ...claims, sub: payload.sub })}.${s}`, code: 'ERR_ACCESS_TOKEN_INVALID' },
    { name: 'two segments', token: `${h}.${p}`, code: 'ERR_ACCESS_TOKEN_INVALID' },
    { name: 'not JSON', token: `${base64url.encode('{')}.${p}.${s}`, code: 'ERR_ACCESS_TOKEN_INVALID' },
  ]
}
