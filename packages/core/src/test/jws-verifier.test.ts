import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { SignJWT } from 'jose'
import { issueAccessToken } from '../access-token.js'
import { toLowS } from '../ecdsa-low-s.js'
import { formatSessionId, newLocalSessionId, newTokenId } from '../ids.js'
import { JwsVerifier, decodeSegment, signingKeyFor } from '../jws-verifier.js'
import { SIGNING_ALGORITHMS, SigningKeySet } from '../signing-keys.js'

const ISSUER = 'https://auth.test'
const AUDIENCE = 'api'
function lowS(token: string): string {
  const [h, p, s] = token.split('.') as [string, string, string]
  return `${h}.${p}.${toLowS(Buffer.from(s, 'base64url')).toString('base64url')}`
}

const NOW = Date.UTC(2026, 10, 22, 12)
const sessionId = formatSessionId('42', newLocalSessionId(NOW - 60_000))
const jws = new JwsVerifier({ issuer: ISSUER, audience: [AUDIENCE, 'other'], algorithms: SIGNING_ALGORITHMS, clockToleranceSeconds: 0 })

function check(keys: SigningKeySet, token: string, nowMs = NOW) {
  const parsed = jws.parse(token)
  const key = signingKeyFor(keys, parsed.keyId, nowMs)
  assert.ok(key, 'key known')
  return jws.verify(parsed, key, nowMs)
}

describe('node:crypto JWS verification', () => {
  for (const alg of SIGNING_ALGORITHMS) {
    test(`${alg}: accepts what Tessera issues and gives the same claims as the core`, async () => {
      const keys = await SigningKeySet.generate({ alg })
      const { token } = await issueAccessToken(keys, { userId: '42', sessionId, tokenId: newTokenId(), nowMs: NOW, ttlSeconds: 900, issuer: ISSUER, audience: [AUDIENCE, 'x'], extraClaims: { role: 'admin' } })
      const claims = check(keys, token)
      assert.equal(claims.userId, '42')
      assert.equal(claims.sessionId, sessionId)
      assert.deepEqual(claims.extra, { role: 'admin' })
      assert.throws(() => check(keys, token, NOW + 900_000), { code: 'ERR_ACCESS_TOKEN_EXPIRED' })
    })
  }

  test('refuses a token that is not valid yet, and a crit header', async () => {
    const keys = await SigningKeySet.generate()
    const { keyId, privateKey } = keys.current()
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: '42', sid: sessionId, jti: newTokenId(), iat: NOW / 1000, exp: NOW / 1000 + 600 }
    const early = lowS(await new SignJWT({ ...claims, nbf: NOW / 1000 + 60 }).setProtectedHeader({ alg: 'ES256', kid: keyId, typ: 'at+jwt' }).sign(privateKey))
    assert.throws(() => check(keys, early), { code: 'ERR_ACCESS_TOKEN_INVALID', message: 'access token is not valid yet' })
    const crit = await new SignJWT({ ...claims, exp: NOW / 1000 + 600 })
      .setProtectedHeader({ alg: 'ES256', kid: keyId, typ: 'at+jwt', b64: true, crit: ['b64'] })
      .sign(privateKey)
    assert.throws(() => check(keys, crit), { code: 'ERR_ACCESS_TOKEN_INVALID' })
  })

  test('base64url: every canonical encoding decodes, every other spelling of the same bytes is refused', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), fc.integer({ min: 1, max: 3 }), (bytes, flip) => {
        const text = Buffer.from(bytes).toString('base64url')
        assert.deepEqual(decodeSegment(text), Buffer.from(bytes))
        if (text.length === 0) return
        assert.throws(() => decodeSegment(`${text}=`))
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
        const last = alphabet.indexOf(text.at(-1)!)
        const other = text.slice(0, -1) + alphabet[last ^ flip]!
        const same = Buffer.from(other, 'base64url').equals(Buffer.from(bytes))
        // Changing spare bits keeps the bytes: that spelling must be refused. Changing real bits is another value.
        if (same) assert.throws(() => decodeSegment(other))
      }),
      { numRuns: 300 },
    )
  })
})
