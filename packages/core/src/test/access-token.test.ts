import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SignJWT, base64url } from 'jose'
import { issueAccessToken } from '../access-token.js'
import { verifyAccessTokenSignature } from '../jws-verifier.js'
import { formatSessionId, newLocalSessionId, newTokenId } from '../ids.js'
import { SIGNING_ALGORITHMS, SigningKeySet, type SigningAlgorithm } from '../signing-keys.js'

const NOW = Date.UTC(2026, 10, 22, 12)
const base = { issuer: 'https://auth.example', audience: 'api' }
const sessionId = formatSessionId('42', newLocalSessionId(NOW))

async function token(keys: SigningKeySet, overrides: Partial<Parameters<typeof issueAccessToken>[1]> = {}) {
  return (await issueAccessToken(keys, { userId: '42', sessionId, tokenId: newTokenId(), nowMs: NOW, ttlSeconds: 900, ...base, ...overrides })).token
}
function verify(keys: SigningKeySet, t: string, options: Partial<Parameters<typeof verifyAccessTokenSignature>[2]> = {}) {
  return verifyAccessTokenSignature(keys, t, { ...base, algorithms: keys.algorithms(), nowMs: NOW + 1000, ...options })
}
async function rejects(p: Promise<unknown>, code: string) {
  await assert.rejects(p, (err: { code?: string }) => err.code === code)
}
function segments(t: string) {
  const [h, p, s] = t.split('.') as [string, string, string]
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString()), payload: JSON.parse(Buffer.from(p, 'base64url').toString()), h, p, s }
}
const enc = (o: unknown) => base64url.encode(JSON.stringify(o))

describe('access tokens', () => {
  for (const alg of SIGNING_ALGORITHMS) {
    test(`${alg}: issues an at+jwt with the required claims and verifies it`, async () => {
      const keys = await SigningKeySet.generate({ alg })
      const t = await token(keys, { extraClaims: { roles: ['admin'] } })
      const { header, payload } = segments(t)
      assert.deepEqual(header, { alg, kid: keys.current().keyId, typ: 'at+jwt' })
      assert.deepEqual(Object.keys(payload).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'roles', 'sid', 'sub'])
      const claims = await verify(keys, t)
      assert.equal(claims.userId, '42')
      assert.equal(claims.sessionId, sessionId)
      assert.deepEqual(claims.extra, { roles: ['admin'] })
      assert.equal(claims.expiresAt - claims.issuedAt, 900)
    })
  }

  test('rejects an expired token with ERR_ACCESS_TOKEN_EXPIRED', async () => {
    const keys = await SigningKeySet.generate()
    await rejects(verify(keys, await token(keys), { nowMs: NOW + 901_000 }), 'ERR_ACCESS_TOKEN_EXPIRED')
  })

  test('rejects wrong issuer, wrong audience, a disallowed algorithm and an unknown key', async () => {
    const keys = await SigningKeySet.generate()
    const t = await token(keys)
    await rejects(verify(keys, t, { issuer: 'https://other' }), 'ERR_ACCESS_TOKEN_INVALID')
    await rejects(verify(keys, t, { audience: 'other' }), 'ERR_ACCESS_TOKEN_INVALID')
    await rejects(verify(keys, t, { algorithms: ['EdDSA'] }), 'ERR_ACCESS_TOKEN_INVALID')
    await rejects(verify(await SigningKeySet.generate(), t), 'ERR_ACCESS_TOKEN_INVALID')
  })

  test('rejects alg none in every casing, a wrong typ and a re-signed HS256 token using the public key', async () => {
    const keys = await SigningKeySet.generate()
    const { header, payload, s } = segments(await token(keys))
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      await rejects(verify(keys, `${enc({ ...header, alg })}.${enc(payload)}.`), 'ERR_ACCESS_TOKEN_INVALID')
    }
    await rejects(verify(keys, `${enc({ ...header, typ: 'JWT' })}.${enc(payload)}.${s}`), 'ERR_ACCESS_TOKEN_INVALID')
    const publicJwk = keys.publicJwks().keys[0]!
    const confused = await new SignJWT(payload)
      .setProtectedHeader({ ...header, alg: 'HS256' })
      .sign(new TextEncoder().encode(JSON.stringify(publicJwk)))
    await rejects(verify(keys, confused, { algorithms: ['ES256', 'HS256'] as SigningAlgorithm[] }), 'ERR_ACCESS_TOKEN_INVALID')
  })

  test('rejects tampered claims, a stripped signature and garbage', async () => {
    const keys = await SigningKeySet.generate()
    const { h, payload, s } = segments(await token(keys))
    await rejects(verify(keys, `${h}.${enc({ ...payload, sub: '43' })}.${s}`), 'ERR_ACCESS_TOKEN_INVALID')
    await rejects(verify(keys, `${h}.${enc(payload)}.`), 'ERR_ACCESS_TOKEN_INVALID')
    for (const bad of ['', 'a.b', 'a.b.c.d', '!!!.@@@.###', 'x'.repeat(9000)]) await rejects(verify(keys, bad), 'ERR_ACCESS_TOKEN_INVALID')
  })

  test('rejects a token whose sid belongs to another user, and refuses reserved extra claims', async () => {
    const keys = await SigningKeySet.generate()
    const foreign = await token(keys, { sessionId: formatSessionId('43', newLocalSessionId(NOW)) })
    await rejects(verify(keys, foreign), 'ERR_ACCESS_TOKEN_INVALID')
    await assert.rejects(token(keys, { extraClaims: { sub: 'admin' } }), TypeError)
  })
})
