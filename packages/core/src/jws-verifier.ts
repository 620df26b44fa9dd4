import { KeyObject, createHmac, createSecretKey, timingSafeEqual, verify as cryptoVerify } from 'node:crypto'
import type { CryptoKey } from 'jose'
import { ACCESS_TOKEN_TYPE, MAX_ACCESS_TOKEN_LENGTH, claimsFromPayload, type AccessTokenClaims } from './access-token.js'
import { isHighS } from './ecdsa-low-s.js'
import { AccessTokenExpired, AccessTokenInvalid } from './errors.js'
import type { SigningAlgorithm, SigningKeySet } from './signing-keys.js'

/**
 * The one compact-JWS verifier of access tokens, on node:crypto. The engine
 * (`Tessera.verifyAccessToken`, introspection) and `@tessera/verifier` both
 * run it, so they refuse the same tokens at the same cost. jose signs and
 * handles keys; verifying through it costs about twice the raw signature check
 * per token, so this file does the same checks with nothing in between.
 */

/** A key that may verify access tokens signed under `keyId`. */
export interface VerificationKey {
  keyId: string
  alg: SigningAlgorithm
  /** node:crypto form, so verification needs no WebCrypto round trip. */
  key: KeyObject
}

/** What tokens are checked against; resolved once, when a {@link JwsVerifier} is made. */
export interface JwsVerifierOptions {
  issuer: string
  /** Any one of these in `aud` is enough. */
  audience: string | readonly string[]
  /** Explicit allowlist; `none` and anything else are always refused. */
  algorithms: readonly SigningAlgorithm[]
  clockToleranceSeconds?: number
}

/** A token split and its header checked; the signature is not verified yet. */
export interface ParsedAccessToken {
  alg: SigningAlgorithm
  keyId: string
  signingInput: string
  payloadSegment: string
  signatureSegment: string
}

// Header parameters that would change how the token must be verified; Tessera issues none of them.
const REFUSED_HEADERS = ['crit', 'jku', 'jwk', 'x5u', 'x5c', 'b64'] as const
const SIGNATURE_BYTES: Partial<Record<SigningAlgorithm, number>> = { ES256: 64, EdDSA: 64, HS256: 32 }
// Bound on remembered headers: every token of one key carries the same header, so a handful suffice.
const HEADER_CACHE_MAX = 256

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

interface CheckedHeader {
  alg: SigningAlgorithm
  keyId: string
}

function checkHeader(segment: string, algorithms: ReadonlySet<string>): CheckedHeader {
  const header = decodeJsonObject(segment)
  const alg = header.alg
  if (typeof alg !== 'string' || alg.toLowerCase() === 'none') throw new AccessTokenInvalid('unsigned access tokens are refused')
  if (!algorithms.has(alg)) throw new AccessTokenInvalid('access token algorithm is not allowed')
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : undefined
  if (typ !== ACCESS_TOKEN_TYPE && typ !== `application/${ACCESS_TOKEN_TYPE}`) throw new AccessTokenInvalid('token is not an access token')
  for (const name of REFUSED_HEADERS) {
    if (name in header) throw new AccessTokenInvalid(`access token header "${name}" is not supported`)
  }
  const keyId = header.kid
  if (typeof keyId !== 'string' || keyId.length === 0 || keyId.length > 256) throw new AccessTokenInvalid('access token names no key')
  return { alg: alg as SigningAlgorithm, keyId }
}

function signatureValid(parsed: ParsedAccessToken, key: VerificationKey): boolean {
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
 * Checks access tokens: `alg` allowlist, `typ`, canonical base64url, the
 * signature (low-S only for ES256), `iss`, `aud`, `exp`, `nbf`, `iat` and the
 * Tessera claims. Split in two so the caller can find the key the header names
 * (and fetch keys when it is unknown) between {@link parse} and {@link verify}.
 * Says nothing about revocation.
 *
 * @example
 * ```ts
 * const jws = new JwsVerifier({ issuer: 'https://auth.example', audience: 'api', algorithms: ['ES256'] })
 * const parsed = jws.parse(token)
 * const claims = jws.verify(parsed, signingKeyFor(keys, parsed.keyId, Date.now())!, Date.now())
 * ```
 */
export class JwsVerifier {
  readonly #issuer: string
  readonly #audiences: readonly string[]
  readonly #algorithms: ReadonlySet<string>
  readonly #toleranceSeconds: number
  /** Headers that passed, by their exact text: the decode and checks run once per key, not once per token. */
  readonly #headers = new Map<string, CheckedHeader>()

  constructor(options: JwsVerifierOptions) {
    this.#issuer = options.issuer
    this.#audiences = typeof options.audience === 'string' ? [options.audience] : [...options.audience]
    this.#algorithms = new Set(options.algorithms)
    this.#toleranceSeconds = options.clockToleranceSeconds ?? 0
  }

  /** Splits a token and checks its header. @throws {AccessTokenInvalid} */
  parse(token: unknown): ParsedAccessToken {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_ACCESS_TOKEN_LENGTH) throw malformed()
    const first = token.indexOf('.')
    const second = first < 0 ? -1 : token.indexOf('.', first + 1)
    if (first <= 0 || second < 0 || token.indexOf('.', second + 1) !== -1 || second === token.length - 1) throw malformed()
    const headerSegment = token.slice(0, first)
    let header = this.#headers.get(headerSegment)
    if (header === undefined) {
      header = checkHeader(headerSegment, this.#algorithms)
      if (this.#headers.size >= HEADER_CACHE_MAX) this.#headers.clear()
      this.#headers.set(headerSegment, header)
    }
    return {
      alg: header.alg,
      keyId: header.keyId,
      signingInput: token.slice(0, second),
      payloadSegment: token.slice(first + 1, second),
      signatureSegment: token.slice(second + 1),
    }
  }

  /**
   * Verifies the signature with `key` (which must be the key the header names)
   * and then the claims.
   *
   * @throws {AccessTokenInvalid} {@link AccessTokenExpired}
   */
  verify(parsed: ParsedAccessToken, key: VerificationKey, nowMs: number): AccessTokenClaims {
    if (key.alg !== parsed.alg || key.keyId !== parsed.keyId) throw new AccessTokenInvalid('access token was signed by an unknown key')
    if (!signatureValid(parsed, key)) throw new AccessTokenInvalid('access token signature is invalid')
    const payload = decodeJsonObject(parsed.payloadSegment)
    if (payload.iss !== this.#issuer) throw new AccessTokenInvalid('access token has the wrong issuer')
    const aud = payload.aud
    const audiences = this.#audiences
    const audienceOk = typeof aud === 'string' ? audiences.includes(aud) : Array.isArray(aud) && aud.some((a) => typeof a === 'string' && audiences.includes(a))
    if (!audienceOk) throw new AccessTokenInvalid('access token has the wrong audience')
    const nowSeconds = Math.floor(nowMs / 1000)
    const tolerance = this.#toleranceSeconds
    if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) throw new AccessTokenInvalid('access token is missing required claims')
    if (payload.exp <= nowSeconds - tolerance) throw new AccessTokenExpired()
    if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > nowSeconds + tolerance)) {
      throw new AccessTokenInvalid('access token is not valid yet')
    }
    // A token issued in the future was not issued by a clock we trust (RFC 8725 section 3.10 spirit).
    if (typeof payload.iat === 'number' && payload.iat > Math.ceil(nowMs / 1000) + tolerance) throw new AccessTokenInvalid('access token was issued in the future')
    return claimsFromPayload(payload, { kid: parsed.keyId })
  }
}

/** Turns what jose hands out (a WebCrypto key or the raw HMAC secret) into a node:crypto key. */
export function toKeyObject(key: CryptoKey | Uint8Array | KeyObject): KeyObject {
  if (key instanceof KeyObject) return key
  if (key instanceof Uint8Array) return createSecretKey(key)
  return KeyObject.from(key)
}

// One KeyObject per key a set hands out, so callers (the verifier's cache) can compare keys by identity.
const converted = new WeakMap<object, VerificationKey>()

/**
 * The live key of `set` with this `kid`, in node:crypto form; undefined when
 * the set does not have it or it retired.
 *
 * @example
 * ```ts
 * const key = signingKeyFor(keys, parsed.keyId, Date.now())
 * ```
 */
export function signingKeyFor(set: SigningKeySet, keyId: string, nowMs: number): VerificationKey | undefined {
  const found = set.verificationKey(keyId, nowMs)
  if (!found) return undefined
  let key = converted.get(found.key)
  if (!key) {
    key = { keyId, alg: found.alg, key: toKeyObject(found.key) }
    converted.set(found.key, key)
  }
  return key
}

/** How {@link verifyAccessTokenSignature} checks a token. */
export interface VerifyAccessTokenOptions {
  issuer: string
  audience: string | string[]
  /** Explicit allowlist; `none` and anything else are always refused. */
  algorithms: readonly SigningAlgorithm[]
  nowMs: number
  clockToleranceSeconds?: number
}

/**
 * Checks one token against a key set with a {@link JwsVerifier} made for this
 * call. Says nothing about revocation: that is the session layer's job.
 * Callers that verify many tokens keep a {@link JwsVerifier} instead.
 *
 * @example
 * ```ts
 * const claims = await verifyAccessTokenSignature(keys, token, { issuer, audience: 'api', algorithms: ['ES256'], nowMs: Date.now() })
 * ```
 * @throws {AccessTokenInvalid} {@link AccessTokenExpired}
 */
export async function verifyAccessTokenSignature(keys: SigningKeySet, token: unknown, options: VerifyAccessTokenOptions): Promise<AccessTokenClaims> {
  const jws = new JwsVerifier(options)
  const parsed = jws.parse(token)
  const key = signingKeyFor(keys, parsed.keyId, options.nowMs)
  if (!key) throw new AccessTokenInvalid('access token was signed by an unknown key')
  return jws.verify(parsed, key, options.nowMs)
}
