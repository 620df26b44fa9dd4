import { KeyObject, createHmac, createPublicKey, generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto'
import { CompactEncrypt, exportJWK } from 'jose'
import type { AccessTokenClaims, SigningKeySet } from '@tessera/core'
import { toLowS } from '../../packages/core/src/ecdsa-low-s.js'

/**
 * A corpus of access tokens an attacker could present, built from a real key
 * set and one genuine token, for the adversarial suites (RFC 8725, OWASP JWT
 * cheat sheet). Every token in it must be refused: 401 over HTTP,
 * `ERR_ACCESS_TOKEN_INVALID` (or `_EXPIRED` where `expectedCode` says so) in
 * code. Cases marked `issuerSigned` carry a valid signature by the real key,
 * so they prove the claim and header checks rather than the signature check.
 */

/** Which threat a forged token exercises (the SECURITY.md threat ids). */
export type ForgeryCategory =
  | 'alg-none'
  | 'key-confusion'
  | 'embedded-key'
  | 'kid-injection'
  | 'psychic-signature'
  | 'ecdsa-high-s'
  | 'signature-encoding'
  | 'time-claims'
  | 'wrong-claims'
  | 'crit'
  | 'duplicate-claims'
  | 'oversized'
  | 'encoding'
  | 'segments'
  | 'jwe'
  | 'tampered'

export interface ForgedToken {
  name: string
  category: ForgeryCategory
  token: string
  /** The code a verifier must answer with. */
  expectedCode: 'ERR_ACCESS_TOKEN_INVALID' | 'ERR_ACCESS_TOKEN_EXPIRED'
  /** Signed by the real key: only a claim or header check can refuse it. */
  issuerSigned: boolean
}

/** What the corpus is built from. */
export interface ForgedTokenInput {
  keys: SigningKeySet
  /** A genuine access token signed by `keys`, as the engine issued it. */
  genuine: string
  /** Its verified claims (for re-signing variants). */
  claims: AccessTokenClaims
  audience: string
  nowMs?: number
}

type Json = Record<string, unknown>

// Order n of the P-256 group (SEC 2, section 2.4.2).
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')

/** The same ES256 token with its signature in high-S form ((r, n - s) when s is low). */
function highS(token: string): string {
  const [h, p, sig] = segments(token)
  const bytes = Buffer.from(sig, 'base64url')
  const s = BigInt(`0x${bytes.subarray(32).toString('hex')}`)
  const high = s > P256_ORDER >> 1n ? s : P256_ORDER - s
  return `${h}.${p}.${b64(Buffer.concat([bytes.subarray(0, 32), Buffer.from(high.toString(16).padStart(64, '0'), 'hex')]))}`
}

const b64 = (data: string | Buffer): string => Buffer.from(data).toString('base64url')
const b64json = (value: unknown): string => b64(JSON.stringify(value))

function segments(token: string): [string, string, string] {
  const [h, p, s] = token.split('.')
  return [h!, p!, s!]
}

/** Signs `header.payload` (already-encoded segments) with node:crypto, so headers jose would refuse to sign (crit) can be made. */
function signSegments(alg: string, key: KeyObject | Uint8Array, header: string, payload: string): string {
  const input = Buffer.from(`${header}.${payload}`)
  let signature: Buffer
  if (alg === 'HS256') signature = createHmac('sha256', key).update(input).digest()
  // Low S, as the issuer signs: an issuer-signed case must fail on its claims, not on the high-S rule.
  else if (alg === 'ES256') signature = toLowS(cryptoSign('sha256', input, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' }))
  else if (alg === 'EdDSA') signature = cryptoSign(null, input, key as KeyObject)
  else signature = cryptoSign('sha256', input, key as KeyObject)
  return `${header}.${payload}.${b64(signature)}`
}

function sign(alg: string, key: KeyObject | Uint8Array, header: Json | string, payload: Json | string): string {
  const h = typeof header === 'string' ? b64(header) : b64json(header)
  const p = typeof payload === 'string' ? b64(payload) : b64json(payload)
  return signSegments(alg, key, h, p)
}

/**
 * Builds the corpus. Attacker keys are fresh per call; the real key is used
 * only for the `issuerSigned` cases.
 *
 * @example
 * ```ts
 * const { accessToken } = await auth.createSession({ userId: '42' })
 * const claims = await auth.verifyAccessToken(accessToken, { mode: 'signature' })
 * for (const forged of await forgedTokens({ keys: auth.keys, genuine: accessToken, claims, audience: 'api' })) {
 *   await assert.rejects(auth.verifyAccessToken(forged.token), { code: forged.expectedCode })
 * }
 * ```
 */
export async function forgedTokens(input: ForgedTokenInput): Promise<ForgedToken[]> {
  const nowS = Math.floor((input.nowMs ?? Date.now()) / 1000)
  const current = input.keys.current()
  const alg = current.alg
  const kid = current.keyId
  const realKey = current.privateKey instanceof Uint8Array ? current.privateKey : KeyObject.from(current.privateKey)
  const [gh, gp, gs] = segments(input.genuine)
  const header: Json = JSON.parse(Buffer.from(gh, 'base64url').toString('utf8'))
  const payload: Json = JSON.parse(Buffer.from(gp, 'base64url').toString('utf8'))
  const out: ForgedToken[] = []
  const add = (category: ForgeryCategory, name: string, token: string, extra: Partial<Pick<ForgedToken, 'expectedCode' | 'issuerSigned'>> = {}) =>
    out.push({ category, name, token, expectedCode: extra.expectedCode ?? 'ERR_ACCESS_TOKEN_INVALID', issuerSigned: extra.issuerSigned ?? false })
  const issuerSigned = (category: ForgeryCategory, name: string, h: Json | string, p: Json | string, expectedCode?: ForgedToken['expectedCode']) =>
    add(category, name, sign(alg, realKey, h, p), { issuerSigned: true, ...(expectedCode ? { expectedCode } : {}) })

  const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const attackerJwk = await exportJWK(attacker.publicKey)
  const attackerSigned = (h: Json, p: Json = payload) => sign('ES256', attacker.privateKey, h, p)

  // T1 alg none, every casing, with and without the original signature.
  for (const none of ['none', 'None', 'NONE', 'nOnE']) {
    add('alg-none', `alg "${none}", empty signature`, `${b64json({ ...header, alg: none })}.${gp}.`)
    add('alg-none', `alg "${none}", original signature kept`, `${b64json({ ...header, alg: none })}.${gp}.${gs}`)
  }
  add('alg-none', 'alg missing', `${b64json({ kid, typ: 'at+jwt' })}.${gp}.${gs}`)
  add('alg-none', 'alg HS512 (outside the allowlist)', sign('HS256', randomBytes(32), { ...header, alg: 'HS512' }, payload))
  add('alg-none', 'alg with a trailing space', `${b64json({ ...header, alg: `${alg} ` })}.${gp}.${gs}`)

  // T2 key confusion: HS256 keyed with the public key in every form a careless verifier might use.
  const publicJwk = input.keys.publicJwks().keys.find((k) => k.kid === kid)
  if (publicJwk) {
    const publicKey = createPublicKey({ key: publicJwk, format: 'jwk' })
    const forms: [string, Buffer][] = [
      ['PEM (SPKI)', Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }))],
      ['DER (SPKI)', publicKey.export({ type: 'spki', format: 'der' })],
      ['JWK JSON', Buffer.from(JSON.stringify(publicJwk))],
    ]
    if (publicJwk.x) forms.push(['raw x coordinate', Buffer.from(publicJwk.x, 'base64url')])
    for (const [form, secret] of forms) add('key-confusion', `HS256 keyed with the public key as ${form}`, sign('HS256', secret, { ...header, alg: 'HS256' }, payload))
  }
  if (alg !== 'RS256') add('key-confusion', 'alg switched to RS256 under the real kid', `${b64json({ ...header, alg: 'RS256' })}.${gp}.${gs}`)

  // T3 embedded or remote keys: jwk, jku, x5u, x5c, all signed by the attacker.
  add('embedded-key', 'embedded jwk header, real kid', attackerSigned({ alg: 'ES256', typ: 'at+jwt', kid, jwk: attackerJwk }))
  add('embedded-key', 'embedded jwk header, no kid', attackerSigned({ alg: 'ES256', typ: 'at+jwt', jwk: attackerJwk }))
  add('embedded-key', 'jku header pointing elsewhere', attackerSigned({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker', jku: 'http://127.0.0.1:9/jwks.json' }))
  add('embedded-key', 'jku header with the real kid', attackerSigned({ alg: 'ES256', typ: 'at+jwt', kid, jku: 'http://127.0.0.1:9/jwks.json' }))
  add('embedded-key', 'x5u header', attackerSigned({ alg: 'ES256', typ: 'at+jwt', kid, x5u: 'http://127.0.0.1:9/cert.pem' }))
  add('embedded-key', 'x5c header with a junk chain', attackerSigned({ alg: 'ES256', typ: 'at+jwt', kid, x5c: [b64('not a certificate')] }))

  // T4 kid injection: path traversal, SQL, NUL, huge, non-string; HS256 with the empty key (the /dev/null trick) and attacker ES256.
  const injected: unknown[] = ['../../../../../../dev/null', "' OR '1'='1", 'x\u0000y', '', 'k'.repeat(300), 12, ['a'], { $ne: null }, '*']
  for (const badKid of injected) {
    const label = typeof badKid === 'string' ? JSON.stringify(badKid.length > 40 ? `${badKid.slice(0, 8)}...(${badKid.length})` : badKid) : JSON.stringify(badKid)
    add('kid-injection', `kid ${label}, HS256 with an empty key`, sign('HS256', Buffer.alloc(0), { alg: 'HS256', typ: 'at+jwt', kid: badKid }, payload))
    add('kid-injection', `kid ${label}, attacker ES256`, attackerSigned({ alg: 'ES256', typ: 'at+jwt', kid: badKid }))
  }
  add('kid-injection', 'kid of a key that does not exist', attackerSigned({ alg: 'ES256', typ: 'at+jwt', kid: 'no-such-key' }))

  // T5 psychic signature (CVE-2022-21449): r = s = 0 in both encodings.
  add('psychic-signature', 'ES256 r=s=0 (IEEE P1363, 64 zero bytes)', `${b64json({ ...header, alg: 'ES256' })}.${gp}.${b64(Buffer.alloc(64))}`)
  add('psychic-signature', 'ES256 r=s=0 (DER)', `${b64json({ ...header, alg: 'ES256' })}.${gp}.${b64(Buffer.from([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]))}`)
  add('psychic-signature', 'signature of n (the curve order) for r and s', `${b64json({ ...header, alg: 'ES256' })}.${gp}.${b64(Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'.repeat(2), 'hex'))}`)

  // T6b ECDSA malleability: (r, n - s) verifies mathematically, but only the low-S spelling (as issued) is a token.
  if (alg === 'ES256') {
    add('ecdsa-high-s', 'the high-S twin (r, n - s) of the genuine ES256 token', highS(input.genuine))
    add('ecdsa-high-s', 'a high-S token signed by the real key, claims changed', highS(sign(alg, realKey, header, { ...payload, role: 'admin' })), { issuerSigned: true })
  }

  // T6 stripped or re-encoded signatures: the payload must be bound to exactly one spelling.
  const sigBytes = Buffer.from(gs, 'base64url')
  add('signature-encoding', 'signature stripped (two dots kept)', `${gh}.${gp}.`)
  add('signature-encoding', 'signature as standard base64 with padding', `${gh}.${gp}.${sigBytes.toString('base64')}`)
  add('signature-encoding', 'signature with "=" padding appended', `${gh}.${gp}.${gs}==`)
  add('signature-encoding', 'signature truncated by one byte', `${gh}.${gp}.${b64(sigBytes.subarray(0, sigBytes.length - 1))}`)
  add('signature-encoding', 'signature with one extra byte', `${gh}.${gp}.${b64(Buffer.concat([sigBytes, Buffer.from([0])]))}`)
  add('signature-encoding', 'signature with one bit flipped', `${gh}.${gp}.${b64(Buffer.from(sigBytes.map((b, i) => (i === 0 ? b ^ 1 : b))))}`)
  if (alg === 'ES256') {
    // (r, n - s) verifies mathematically; a canonical verifier must still see a different string and refuse or accept consistently.
    add('signature-encoding', 'ES256 signature in DER instead of IEEE P1363', `${gh}.${gp}.${b64(derFromP1363(sigBytes))}`)
  }
  add('signature-encoding', 'header re-encoded with whitespace (signature over the old bytes)', `${b64(JSON.stringify(header, null, 1))}.${gp}.${gs}`)

  // T7 time claims, issuer-signed so only the claim check can refuse them.
  issuerSigned('time-claims', 'expired an hour ago', header, { ...payload, iat: nowS - 7200, exp: nowS - 3600 }, 'ERR_ACCESS_TOKEN_EXPIRED')
  issuerSigned('time-claims', 'expires exactly now', header, { ...payload, iat: nowS - 900, exp: nowS }, 'ERR_ACCESS_TOKEN_EXPIRED')
  issuerSigned('time-claims', 'not valid for an hour (nbf)', header, { ...payload, nbf: nowS + 3600 })
  issuerSigned('time-claims', 'issued an hour in the future (iat)', header, { ...payload, iat: nowS + 3600, exp: nowS + 4500 })
  issuerSigned('time-claims', 'exp missing', header, withoutKeys(payload, ['exp']))
  issuerSigned('time-claims', 'iat missing', header, withoutKeys(payload, ['iat']))
  issuerSigned('time-claims', 'exp as a string', header, { ...payload, exp: String(nowS + 600) })
  issuerSigned('time-claims', 'nbf as a string', header, { ...payload, nbf: 'yesterday' })

  // T8 wrong iss / aud / typ / missing Tessera claims, issuer-signed.
  issuerSigned('wrong-claims', 'wrong issuer', header, { ...payload, iss: 'https://evil.example' })
  issuerSigned('wrong-claims', 'issuer missing', header, withoutKeys(payload, ['iss']))
  issuerSigned('wrong-claims', 'wrong audience', header, { ...payload, aud: 'another-api' })
  issuerSigned('wrong-claims', 'audience as a list without ours', header, { ...payload, aud: ['another-api', `${input.audience}x`] })
  issuerSigned('wrong-claims', 'audience missing', header, withoutKeys(payload, ['aud']))
  issuerSigned('wrong-claims', 'typ JWT (an ID token or other JWT)', { ...header, typ: 'JWT' }, payload)
  issuerSigned('wrong-claims', 'typ missing', withoutKeys(header, ['typ']), payload)
  issuerSigned('wrong-claims', 'sid missing', header, withoutKeys(payload, ['sid']))
  issuerSigned('wrong-claims', 'sid of another user', header, { ...payload, sub: `${input.claims.userId}-other` })
  issuerSigned('wrong-claims', 'jti missing', header, withoutKeys(payload, ['jti']))
  issuerSigned('wrong-claims', 'sub as a number', header, { ...payload, sub: 42 })
  issuerSigned('wrong-claims', 'payload a JSON array', header, [payload] as unknown as Json)
  issuerSigned('wrong-claims', 'payload JSON null', header, 'null')
  issuerSigned('wrong-claims', 'payload not JSON', header, 'not json at all')

  // T9 crit with an unknown extension (RFC 7515 section 4.1.11: must be refused).
  issuerSigned('crit', 'crit naming an unknown extension', { ...header, crit: ['urn:example:unknown'], 'urn:example:unknown': true }, payload)
  issuerSigned('crit', 'crit naming b64 (unencoded payload)', { ...header, crit: ['b64'], b64: false }, payload)
  issuerSigned('crit', 'crit empty list', { ...header, crit: [] }, payload)

  // T10 duplicate names: JSON.parse keeps the lexically last (RFC 7515 section 5.2); each spelling here must still be refused.
  const body = JSON.stringify(payload).slice(1, -1)
  add('duplicate-claims', 'duplicate sub appended to a genuine payload (signature over the old bytes)', `${gh}.${b64(`{${body},"sub":"victim"}`)}.${gs}`)
  add('duplicate-claims', 'duplicate alg "none" appended to a genuine header', `${b64(`${JSON.stringify(header).slice(0, -1)},"alg":"none"}`)}.${gp}.`)
  issuerSigned('duplicate-claims', 'duplicate sub whose last value does not own the sid', header, `{${body},"sub":"victim"}`)
  issuerSigned('duplicate-claims', 'duplicate exp whose last value has passed', header, `{${body},"exp":${nowS - 60}}`, 'ERR_ACCESS_TOKEN_EXPIRED')

  // T11 oversized: over the 8 KiB limit in header or payload, and a huge but parseable attacker token.
  add('oversized', 'header of 16 KiB', attackerSigned({ alg: 'ES256', typ: 'at+jwt', kid, pad: 'A'.repeat(16_384) }))
  add('oversized', 'payload of 64 KiB', attackerSigned({ alg: 'ES256', typ: 'at+jwt', kid }, { ...payload, pad: 'A'.repeat(65_536) }))
  add('oversized', 'deeply nested payload just under the size limit', attackerSigned({ alg: 'ES256', typ: 'at+jwt', kid }, JSON.parse(`${'{"a":'.repeat(500)}1${'}'.repeat(500)}`) as Json))
  add('oversized', '1 MiB of dots and letters', `${'a.'.repeat(524_288)}`)

  // T12 characters outside base64url.
  for (const [label, ch] of [
    ['"+"', '+'],
    ['"/"', '/'],
    ['"="', '='],
    ['a space', ' '],
    ['a newline', '\n'],
    ['a NUL', '\u0000'],
    ['"é"', 'é'],
    ['"*"', '*'],
  ] as const) {
    add('encoding', `${label} inside the header`, `${gh.slice(0, 4)}${ch}${gh.slice(4)}.${gp}.${gs}`)
    add('encoding', `${label} inside the payload`, `${gh}.${gp.slice(0, 4)}${ch}${gp.slice(4)}.${gs}`)
    add('encoding', `${label} inside the signature`, `${gh}.${gp}.${gs.slice(0, 4)}${ch}${gs.slice(4)}`)
  }
  add('encoding', 'header with a non-zero spare bit (non-canonical base64url)', `${spareBitVariant(gh)}.${gp}.${gs}`)
  add('encoding', 'signature with a non-zero spare bit (same bytes, another spelling)', `${gh}.${gp}.${spareBitVariant(gs)}`)
  add('encoding', 'header not JSON', `${b64('{alg:ES256')}.${gp}.${gs}`)
  add('encoding', 'header a JSON string', `${b64json('ES256')}.${gp}.${gs}`)

  // T13 wrong segment counts.
  for (const [name, token] of [
    ['empty string', ''],
    ['one segment', gh],
    ['two segments', `${gh}.${gp}`],
    ['four segments', `${gh}.${gp}.${gs}.${gs}`],
    ['six segments', `${gh}.${gp}.${gs}.${gh}.${gp}.${gs}`],
    ['only dots', '..'],
    ['empty header', `.${gp}.${gs}`],
    ['empty payload', `${gh}..${gs}`],
    ['leading dot', `.${gh}.${gp}.${gs}`],
  ] as const) {
    add('segments', name, token)
  }

  // T14 a JWE where a JWS is expected (RFC 8725 section 3.1: keep the kinds apart).
  const jwe = await new CompactEncrypt(Buffer.from(JSON.stringify(payload))).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: 'at+jwt', kid }).encrypt(randomBytes(32))
  add('jwe', 'compact JWE (dir, A256GCM) carrying the genuine claims', jwe)
  add('jwe', 'five segments with a JWS header', `${gh}..${gp}.${gs}.${b64('tag')}`)

  // T15 tampered claims on a genuine token (signature over the old bytes).
  const victim = `${input.claims.userId}0`
  add('tampered', 'sub changed to another user', `${gh}.${b64json({ ...payload, sub: victim })}.${gs}`)
  add('tampered', 'exp extended by a year', `${gh}.${b64json({ ...payload, exp: nowS + 365 * 86400 })}.${gs}`)
  add('tampered', 'aud widened', `${gh}.${b64json({ ...payload, aud: [input.audience, 'admin'] })}.${gs}`)
  add('tampered', 'role claim added', `${gh}.${b64json({ ...payload, role: 'admin' })}.${gs}`)
  add('tampered', 'jti changed (dodging the denylist)', `${gh}.${b64json({ ...payload, jti: b64(randomBytes(16)) })}.${gs}`)
  add('tampered', 'kid changed in the header', `${b64json({ ...header, kid: `${kid}x` })}.${gp}.${gs}`)
  add('tampered', 'payload of another genuine-looking token signed by the attacker under the real kid', attackerSigned({ ...header, alg: 'ES256' }))
  return out
}

function withoutKeys(value: Json, names: string[]): Json {
  return Object.fromEntries(Object.entries(value).filter(([k]) => !names.includes(k)))
}

/**
 * The same bytes spelled with a non-zero spare bit in the last character, when
 * the length leaves spare bits (otherwise one more character).
 *
 * @example
 * ```ts
 * Buffer.from(spareBitVariant('AQ'), 'base64url') // the same byte as Buffer.from('AQ', 'base64url')
 * ```
 */
export function spareBitVariant(segment: string): string {
  if (segment.length % 4 === 0) return `${segment}A`
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = alphabet.indexOf(segment.at(-1)!)
  return segment.slice(0, -1) + alphabet[last ^ 1]
}

function derFromP1363(signature: Buffer): Buffer {
  const integer = (bytes: Buffer) => {
    let i = 0
    while (i < bytes.length - 1 && bytes[i] === 0) i++
    let v = bytes.subarray(i)
    if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v])
    return Buffer.concat([Buffer.from([0x02, v.length]), v])
  }
  const body = Buffer.concat([integer(signature.subarray(0, 32)), integer(signature.subarray(32))])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}
