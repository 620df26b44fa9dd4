import { createHmac, timingSafeEqual, verify as cryptoVerify } from 'node:crypto'
import {
  ACCESS_TOKEN_TYPE,
  type AccessTokenClaims,
  AccessTokenExpired,
  AccessTokenInvalid,
  claimsFromPayload,
  isHighS,
  MAX_ACCESS_TOKEN_LENGTH,
  type SigningAlgorithm,
} from '@tessera/core'
import type { VerificationKey } from './key-source.js'

/**
 * Compact-JWS verification on node:crypto. jose is the reference (see
 * `verifyAccessTokenSignature` in core) but costs about twice the raw
 * signature check per token; this file does the same checks with nothing in
 * between, and ends in the same `claimsFromPayload` so both refuse the same
 * tokens.
 */

/** What a token is checked against. Resolved once, at verifier construction. */
export interface JwsCheckOptions {
  issuer: string
  /** Any one of these in `aud` is enough. */
  audiences: readonly string[]
  algorithms: ReadonlySet<SigningAlgorithm>
  clockToleranceSeconds: number
}

/** A token split and its header checked; the signature is not verified yet. */
export interface ParsedToken {
  alg: SigningAlgorithm
  keyId: string
  signingInput: string
  payloadSegment: string
  signatureSegment: string
}

// Header parameters that would change how the token must be verified; Tessera issues none of them.
const REFUSED_HEADERS = ['crit', 'jku', 'jwk', 'x5u', 'x5c', 'b64'] as const
const SIGNATURE_BYTES: Partial<Record<SigningAlgorithm, number>> = { ES256: 64, EdDSA: 64, HS256: 32 }

function malformed(): AccessTokenInvalid {
  return new AccessTokenInvalid('access token is malformed')
}

const BASE64URL = /^[A-Za-z0-9_-]*$/
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * Decodes base64url and refuses every non-canonical spelling (padding, stray
 * characters, non-zero spare bits): otherwise one signature could be written
 * as several strings, each a different cache key.
 */
export function decodeSegment(segment: string): Buffer {
  const rest = segment.length % 4
  if (rest === 1 || !BASE64URL.test(segment)) throw malformed()
  if (rest !== 0) {
    // The last character carries 2 (rest 3) or 4 (rest 2) bits that encode nothing; they must be zero.
    const spare = ALPHABET.indexOf(segment[segment.length - 1]!) & (rest === 2 ? 0x0f : 0x03)
    if (spare !== 0) throw malformed()
  }
  return Buffer.from(segment, 'base64url')
}

function decodeJsonObject(segment: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(decodeSegment(segment).toString('utf8'))
  } catch (err) {
    if (err instanceof AccessTokenInvalid) throw err
    throw malformed()
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed()
  return value as Record<string, unknown>
}

/** A header that passed {@link checkHeader}. */
interface CheckedHeader {
  alg: SigningAlgorithm
  keyId: string
}

function checkHeader(segment: string, algorithms: ReadonlySet<SigningAlgorithm>): CheckedHeader {
  const header = decodeJsonObject(segment)
  const alg = header.alg
  if (typeof alg !== 'string' || alg.toLowerCase() === 'none') throw new AccessTokenInvalid('unsigned access tokens are refused')
  if (!algorithms.has(alg as SigningAlgorithm)) throw new AccessTokenInvalid('access token algorithm is not allowed')
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : undefined
  if (typ !== ACCESS_TOKEN_TYPE && typ !== `application/${ACCESS_TOKEN_TYPE}`) throw new AccessTokenInvalid('token is not an access token')
  for (const name of REFUSED_HEADERS) {
    if (name in header) throw new AccessTokenInvalid(`access token header "${name}" is not supported`)
  }
  const keyId = header.kid
  if (typeof keyId !== 'string' || keyId.length === 0 || keyId.length > 256) throw new AccessTokenInvalid('access token names no key')
  return { alg: alg as SigningAlgorithm, keyId }
}

/**
 * Remembers headers that passed, by their exact text, for one allowlist: every
 * token of one key carries the same header, so the decode and checks run once
 * per key instead of once per token. Bounded; only good headers are kept.
 */
export class HeaderCache {
  readonly #algorithms: ReadonlySet<SigningAlgorithm>
  readonly #checked = new Map<string, CheckedHeader>()
  readonly #max: number

  constructor(algorithms: ReadonlySet<SigningAlgorithm>, max = 256) {
    this.#algorithms = algorithms
    this.#max = max
  }

  check(segment: string): CheckedHeader {
    let header = this.#checked.get(segment)
    if (header === undefined) {
      header = checkHeader(segment, this.#algorithms)
      if (this.#checked.size >= this.#max) this.#checked.clear()
      this.#checked.set(segment, header)
    }
    return header
  }
}

/** Splits a token and checks its header against the allowlist (or a {@link HeaderCache}). Throws {@link AccessTokenInvalid}. */
export function parseToken(token: unknown, algorithms: ReadonlySet<SigningAlgorithm> | HeaderCache): ParsedToken {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_ACCESS_TOKEN_LENGTH) throw malformed()
  const first = token.indexOf('.')
  const second = first < 0 ? -1 : token.indexOf('.', first + 1)
  if (first <= 0 || second < 0 || token.indexOf('.', second + 1) !== -1 || second === token.length - 1) throw malformed()
  const headerSegment = token.slice(0, first)
  const { alg, keyId } = algorithms instanceof HeaderCache ? algorithms.check(headerSegment) : checkHeader(headerSegment, algorithms)
  return {
    alg,
    keyId,
    signingInput: token.slice(0, second),
    payloadSegment: token.slice(first + 1, second),
    signatureSegment: token.slice(second + 1),
  }
}

function signatureValid(parsed: ParsedToken, key: VerificationKey): boolean {
  const signature = decodeSegment(parsed.signatureSegment)
  const expectedBytes = SIGNATURE_BYTES[parsed.alg]
  if (expectedBytes !== undefined && signature.length !== expectedBytes) return false
  const input = Buffer.from(parsed.signingInput, 'latin1')
  try {
    switch (parsed.alg) {
      case 'ES256':
        // (r, n - s) verifies as well as (r, s): only the low-S spelling is a token.
        if (isHighS(signature)) return false
        return cryptoVerify('sha256', input, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature)
      case 'EdDSA':
        return cryptoVerify(null, input, key.key, signature)
      case 'RS256':
        return cryptoVerify('sha256', input, key.key, signature)
      case 'HS256':
        return timingSafeEqual(createHmac('sha256', key.key).update(input).digest(), signature)
    }
  } catch {
    // node:crypto throws on keys or signatures it cannot use at all; for us that is just a bad token.
    return false
  }
}

/**
 * Verifies the signature with `key` (which must be the key the header names)
 * and then the claims: `iss`, `aud`, `exp`, `nbf` and the Tessera claims.
 *
 * @example
 * ```ts
 * const parsed = parseToken(token, new Set(['ES256']))
 * const claims = verifyParsedToken(parsed, keys.get(parsed.keyId, Date.now())!, options, Date.now())
 * ```
 */
export function verifyParsedToken(parsed: ParsedToken, key: VerificationKey, options: JwsCheckOptions, nowMs: number): AccessTokenClaims {
  if (key.alg !== parsed.alg || key.keyId !== parsed.keyId) throw new AccessTokenInvalid('access token was signed by an unknown key')
  if (!signatureValid(parsed, key)) throw new AccessTokenInvalid('access token signature is invalid')
  const payload = decodeJsonObject(parsed.payloadSegment)
  if (payload.iss !== options.issuer) throw new AccessTokenInvalid('access token has the wrong issuer')
  const aud = payload.aud
  const audienceOk = typeof aud === 'string' ? options.audiences.includes(aud) : Array.isArray(aud) && aud.some((a) => typeof a === 'string' && options.audiences.includes(a))
  if (!audienceOk) throw new AccessTokenInvalid('access token has the wrong audience')
  const nowSeconds = Math.floor(nowMs / 1000)
  const tolerance = options.clockToleranceSeconds
  if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) throw new AccessTokenInvalid('access token is missing required claims')
  if (payload.exp <= nowSeconds - tolerance) throw new AccessTokenExpired()
  if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > nowSeconds + tolerance)) {
    throw new AccessTokenInvalid('access token is not valid yet')
  }
  // Same rule as the engine: a token issued in the future did not come from a clock we trust.
  if (typeof payload.iat === 'number' && payload.iat > Math.ceil(nowMs / 1000) + tolerance) throw new AccessTokenInvalid('access token was issued in the future')
  return claimsFromPayload(payload, { kid: parsed.keyId })
}
