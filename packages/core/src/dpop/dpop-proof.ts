import { constants, createHash, createPublicKey, verify as cryptoVerify, type JsonWebKey, type KeyObject } from 'node:crypto'
import { DpopKeyMismatch, DpopNonceRequired, DpopProofInvalid } from '../errors.js'
import type { DpopAlgorithm, ResolvedDpopOptions } from './dpop-options.js'
import { jwkThumbprint, publicJwk } from './jwk-thumbprint.js'
import { normaliseHtu } from './request-url.js'

/** RFC 9449 media type of proofs. */
export const DPOP_PROOF_TYPE = 'dpop+jwt'
/** Longer proofs are refused before any parsing (an RSA-4096 proof is about 2 KB). */
export const MAX_DPOP_PROOF_LENGTH = 4096

/** What a request presents: the `DPoP` header(s), and the method and absolute URL it was sent to. */
export interface DpopPresentation {
  /** The `DPoP` header as the HTTP library gives it; several headers are refused. */
  proof: string | string[] | undefined
  method: string
  /** Absolute URL of the request (scheme and host as the client used them; see `normaliseHtu`). */
  url: string
}

/** What the caller expects of a proof besides the request it came with. */
export interface DpopExpectation {
  /** The access token sent with the proof (resource requests): `ath` must be its hash. */
  accessToken?: string
  /** The `jkt` the token is bound to: the proof must be signed by that key. */
  thumbprint?: string
}

/** A proof whose signature and claims passed; the replay check is still to come. */
export interface VerifiedDpopProof {
  /** RFC 7638 thumbprint of the proof's key (`jkt`). */
  thumbprint: string
  /** Store key of the proof's `jti` (a hash of the key and the `jti`). */
  replayKey: string
}

/** Where proof ids are remembered so each proof works once across every instance (the session store). */
export interface DpopReplayCache {
  /** True the first time `proofKey` is seen within `ttlMs`; false for a replay. */
  markDpopProofUsed(request: { proofKey: string; ttlMs: number; nowMs: number }): Promise<boolean>
}

interface CheckedHeader {
  alg: DpopAlgorithm
  key: KeyObject
  thumbprint: string
}

const KEY_TYPES: Readonly<Record<DpopAlgorithm, { kty: string; crv?: string; signatureBytes?: number }>> = {
  ES256: { kty: 'EC', crv: 'P-256', signatureBytes: 64 },
  ES384: { kty: 'EC', crv: 'P-384', signatureBytes: 96 },
  EdDSA: { kty: 'OKP', crv: 'Ed25519', signatureBytes: 64 },
  Ed25519: { kty: 'OKP', crv: 'Ed25519', signatureBytes: 64 },
  PS256: { kty: 'RSA' },
  RS256: { kty: 'RSA' },
}
const MIN_RSA_BITS = 2048
const HEADER_CACHE_MAX = 1024

function invalid(message: string, cause?: unknown): DpopProofInvalid {
  return new DpopProofInvalid(message, cause === undefined ? undefined : { cause })
}

/** Decodes one base64url JSON object, refusing non-canonical spellings (one proof must have one spelling). */
function decodeObject(segment: string, what: string): Record<string, unknown> {
  const bytes = Buffer.from(segment, 'base64url')
  if (bytes.toString('base64url') !== segment) throw invalid(`DPoP proof ${what} is not base64url`)
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw invalid(`DPoP proof ${what} is not JSON`, err)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`DPoP proof ${what} is not a JSON object`)
  return value as Record<string, unknown>
}

function signatureValid(alg: DpopAlgorithm, key: KeyObject, input: Buffer, signature: Buffer): boolean {
  const expected = KEY_TYPES[alg].signatureBytes
  if (expected !== undefined && signature.length !== expected) return false
  try {
    switch (alg) {
      case 'ES256':
        return cryptoVerify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature)
      case 'ES384':
        return cryptoVerify('sha384', input, { key, dsaEncoding: 'ieee-p1363' }, signature)
      case 'EdDSA':
      case 'Ed25519':
        return cryptoVerify(null, input, key, signature)
      case 'RS256':
        return cryptoVerify('sha256', input, key, signature)
      case 'PS256':
        return cryptoVerify('sha256', input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature)
    }
  } catch {
    // node:crypto throws on signatures it cannot use at all; for us that is just a bad proof.
    return false
  }
}

/** `ath`: base64url SHA-256 of the access token (RFC 9449 section 4.2). */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url')
}

/**
 * The one DPoP proof checker (RFC 9449 section 4.3) behind the engine, the
 * verifier and every adapter. A check costs one signature verification on
 * node:crypto and one replay-cache call; the key of a header seen before is
 * not imported again.
 *
 * @example
 * ```ts
 * const checker = new DpopProofChecker(resolveDpopOptions({}), store)
 * const { thumbprint } = await checker.check({ proof: req.headers.dpop, method: 'POST', url: 'https://auth.example/oauth2/token' }, {}, Date.now())
 * ```
 */
export class DpopProofChecker {
  readonly options: ResolvedDpopOptions
  readonly #replay: DpopReplayCache
  readonly #algorithms: ReadonlySet<string>
  readonly #headers = new Map<string, CheckedHeader>()

  constructor(options: ResolvedDpopOptions, replay: DpopReplayCache) {
    this.options = options
    this.#replay = replay
    this.#algorithms = new Set(options.algorithms)
  }

  /** The nonce to send in `DPoP-Nonce` now, or null when nonces are off. */
  nonce(nowMs: number): string | null {
    return this.options.nonces?.current(nowMs) ?? null
  }

  #header(segment: string): CheckedHeader {
    const cached = this.#headers.get(segment)
    if (cached) return cached
    const header = decodeObject(segment, 'header')
    if (header.typ !== DPOP_PROOF_TYPE) throw invalid('DPoP proof "typ" must be "dpop+jwt"')
    const alg = header.alg
    if (typeof alg !== 'string' || !this.#algorithms.has(alg)) throw invalid('DPoP proof algorithm is not allowed (asymmetric algorithms only)')
    // RFC 7515 section 4.1.11: an extension the recipient does not understand makes the JWS invalid.
    if ('crit' in header) throw invalid('DPoP proof header has critical extensions Tessera does not understand')
    const jwk = publicJwk(header.jwk)
    if (!jwk) throw invalid('DPoP proof "jwk" must be a public EC, OKP or RSA key with no private members')
    const wanted = KEY_TYPES[alg as DpopAlgorithm]
    if (jwk.kty !== wanted.kty || (wanted.crv !== undefined && jwk.crv !== wanted.crv)) throw invalid('DPoP proof key does not fit its algorithm')
    let key: KeyObject
    try {
      key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
    } catch (err) {
      throw invalid('DPoP proof "jwk" is not a usable key', err)
    }
    if (wanted.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) throw invalid('DPoP proof RSA key is shorter than 2048 bits')
    return { alg: alg as DpopAlgorithm, key, thumbprint: jwkThumbprint(jwk) }
  }

  #remember(segment: string, header: CheckedHeader): void {
    if (this.#headers.has(segment)) return
    if (this.#headers.size >= HEADER_CACHE_MAX) this.#headers.clear()
    this.#headers.set(segment, header)
  }

  /**
   * Every check but the replay one, synchronously: shape, header, claims, nonce,
   * signature, `ath` and the binding.
   *
   * @throws {DpopProofInvalid} {@link DpopNonceRequired} {@link DpopKeyMismatch}
   */
  verify(presentation: DpopPresentation, expect: DpopExpectation, nowMs: number): VerifiedDpopProof {
    const raw = presentation.proof
    if (raw === undefined) throw invalid('a DPoP proof is required (the "DPoP" header)')
    if (Array.isArray(raw)) throw invalid('send exactly one DPoP header')
    if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_DPOP_PROOF_LENGTH) throw invalid('DPoP proof is empty or too long')
    const first = raw.indexOf('.')
    const second = first < 0 ? -1 : raw.indexOf('.', first + 1)
    // An empty signature passes this shape check on purpose: the header check then says `none` is refused.
    if (first <= 0 || second < 0 || raw.indexOf('.', second + 1) !== -1) throw invalid('DPoP proof is not a compact JWS')
    const headerSegment = raw.slice(0, first)
    const header = this.#header(headerSegment)
    const payload = decodeObject(raw.slice(first + 1, second), 'payload')

    const { jti, htm, htu, iat } = payload
    if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256) throw invalid('DPoP proof "jti" must be a string of 8 to 256 characters')
    if (htm !== presentation.method) throw invalid('DPoP proof "htm" does not match the request method')
    const expectedHtu = normaliseHtu(presentation.url)
    if (typeof htu !== 'string' || expectedHtu === null || normaliseHtu(htu) !== expectedHtu) throw invalid('DPoP proof "htu" does not match the request URL')
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('DPoP proof "iat" is missing')
    const iatMs = iat * 1000
    if (iatMs < nowMs - this.options.maxAgeMs) throw invalid('DPoP proof is too old')
    if (iatMs > nowMs + this.options.futureSkewMs) throw invalid('DPoP proof was issued in the future')
    const nonces = this.options.nonces
    if (nonces && !nonces.accepts(payload.nonce, nowMs)) throw new DpopNonceRequired(nonces.current(nowMs))

    const signature = Buffer.from(raw.slice(second + 1), 'base64url')
    if (signature.toString('base64url') !== raw.slice(second + 1)) throw invalid('DPoP proof signature is not base64url')
    if (!signatureValid(header.alg, header.key, Buffer.from(raw.slice(0, second), 'latin1'), signature)) throw invalid('DPoP proof signature is invalid')
    this.#remember(headerSegment, header)

    if (expect.accessToken !== undefined) {
      if (typeof payload.ath !== 'string' || payload.ath !== accessTokenHash(expect.accessToken)) throw invalid('DPoP proof "ath" does not match the access token')
    }
    if (expect.thumbprint !== undefined && expect.thumbprint !== header.thumbprint) throw new DpopKeyMismatch('the DPoP proof was signed by another key than the token is bound to')
    const replayKey = createHash('sha256').update(`${header.thumbprint}\0${jti}`).digest().subarray(0, 16).toString('base64url')
    return { thumbprint: header.thumbprint, replayKey }
  }

  /** Records the proof's `jti`; throws when another request already used it. */
  async markUsed(proof: VerifiedDpopProof, nowMs: number): Promise<void> {
    const first = await this.#replay.markDpopProofUsed({ proofKey: proof.replayKey, ttlMs: this.options.replayTtlMs, nowMs })
    if (!first) throw invalid('DPoP proof was already used')
  }

  /**
   * The whole check: {@link verify}, then the replay cache.
   *
   * @throws {DpopProofInvalid} {@link DpopNonceRequired} {@link DpopKeyMismatch} {@link StoreUnavailable}
   */
  async check(presentation: DpopPresentation, expect: DpopExpectation, nowMs: number): Promise<VerifiedDpopProof> {
    const proof = this.verify(presentation, expect, nowMs)
    await this.markUsed(proof, nowMs)
    return proof
  }
}
