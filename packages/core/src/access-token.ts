import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload, type JWTHeaderParameters } from 'jose'
import { isHighS, toLowS } from './ecdsa-low-s.js'
import { AccessTokenExpired, AccessTokenInvalid } from './errors.js'
import { isTokenId, parseSessionId } from './ids.js'
import type { SigningAlgorithm, SigningKeySet } from './signing-keys.js'

/** RFC 9068 media type of JWT access tokens. */
export const ACCESS_TOKEN_TYPE = 'at+jwt'
/** Longer tokens are refused before any parsing. */
export const MAX_ACCESS_TOKEN_LENGTH = 8192

// Three base64url segments, no padding or other characters (RFC 7515 section 2).
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

/**
 * jose decodes leniently (padding, whitespace, spare bits), so one signature
 * could be spelled several ways and each spelling would verify. Only the
 * canonical spelling is accepted, as the verifier does.
 */
function isCanonicalCompact(token: string): boolean {
  if (!COMPACT_JWS.test(token)) return false
  return token.split('.').every((segment) => Buffer.from(segment, 'base64url').toString('base64url') === segment)
}

const RESERVED_CLAIMS = new Set(['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'exp', 'nbf', 'typ', 'cnf', 'client_id'])

/** The verified content of an access token, in our own words. This file is the only one that reads raw claim names. */
export interface AccessTokenClaims {
  userId: string
  sessionId: string
  tokenId: string
  /** Epoch seconds. */
  issuedAt: number
  /** Epoch seconds. */
  expiresAt: number
  issuer: string
  keyId: string
  /** RFC 7638 thumbprint of the DPoP key the token is bound to (`cnf.jkt`, RFC 9449 section 6); null for a bearer token. */
  keyThumbprint: string | null
  /** Claims added with `extraClaims` at issue time. */
  extra: Record<string, unknown>
}

/** What goes into a new access token. */
export interface IssueAccessTokenInput {
  userId: string
  sessionId: string
  tokenId: string
  nowMs: number
  ttlSeconds: number
  issuer: string
  audience: string | string[]
  /** Bind the token to this DPoP key thumbprint (`cnf.jkt`). */
  keyThumbprint?: string
  extraClaims?: Record<string, unknown>
}

/**
 * Signs an access token with the current key of `keys`.
 *
 * @example
 * ```ts
 * const token = await issueAccessToken(keys, { userId: '42', sessionId, tokenId: newTokenId(), nowMs: Date.now(),
 *   ttlSeconds: 900, issuer: 'https://auth.example', audience: 'api' })
 * ```
 */
export async function issueAccessToken(keys: SigningKeySet, input: IssueAccessTokenInput): Promise<{ token: string; expiresAt: number }> {
  const { keyId, alg, privateKey } = keys.current()
  const issuedAt = Math.floor(input.nowMs / 1000)
  const expiresAt = issuedAt + input.ttlSeconds
  const extra: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(input.extraClaims ?? {})) {
    if (RESERVED_CLAIMS.has(name)) throw new TypeError(`"${name}" is a reserved claim and cannot be set through extraClaims`)
    extra[name] = value
  }
  const claims: Record<string, unknown> = { ...extra, sid: input.sessionId }
  if (input.keyThumbprint !== undefined) claims.cnf = { jkt: input.keyThumbprint }
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg, kid: keyId, typ: ACCESS_TOKEN_TYPE })
    .setIssuer(input.issuer)
    .setAudience(input.audience)
    .setSubject(input.userId)
    .setJti(input.tokenId)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(privateKey)
  return { token: alg === 'ES256' ? withLowS(token) : token, expiresAt }
}

/** WebCrypto signs ES256 with either S; verifiers refuse high S (one token, one spelling), so issue the low-S twin. */
function withLowS(token: string): string {
  const last = token.lastIndexOf('.')
  return `${token.slice(0, last)}.${toLowS(Buffer.from(token.slice(last + 1), 'base64url')).toString('base64url')}`
}

/** How to check an access token's signature and claims. */
export interface VerifyAccessTokenOptions {
  issuer: string
  audience: string | string[]
  /** Explicit allowlist; `none` and anything else are always refused. */
  algorithms: readonly SigningAlgorithm[]
  nowMs: number
  clockToleranceSeconds?: number
}

/** Turns a verified payload into {@link AccessTokenClaims}, refusing anything Tessera would not have issued. */
export function claimsFromPayload(payload: JWTPayload, header: Pick<JWTHeaderParameters, 'kid'>): AccessTokenClaims {
  const { iss, sub, sid, jti, iat, exp, cnf, aud: _aud, nbf: _nbf, ...extra } = payload
  const session = parseSessionId(sid)
  let keyThumbprint: string | null = null
  if (cnf !== undefined) {
    // RFC 7800: a confirmation Tessera cannot check (anything but a DPoP jkt) must not be ignored.
    const jkt = typeof cnf === 'object' && cnf !== null && !Array.isArray(cnf) && Object.keys(cnf).length === 1 ? (cnf as { jkt?: unknown }).jkt : undefined
    if (typeof jkt !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(jkt)) throw new AccessTokenInvalid('access token has a confirmation claim Tessera does not support')
    keyThumbprint = jkt
  }
  if (
    typeof sub !== 'string' ||
    !session ||
    session.userId !== sub ||
    !isTokenId(jti) ||
    typeof iat !== 'number' ||
    typeof exp !== 'number' ||
    typeof iss !== 'string' ||
    typeof header.kid !== 'string'
  ) {
    throw new AccessTokenInvalid('access token is missing required claims')
  }
  return { userId: sub, sessionId: sid as string, tokenId: jti, issuedAt: iat, expiresAt: exp, issuer: iss, keyId: header.kid, keyThumbprint, extra }
}

/**
 * Checks signature, `alg` allowlist, `typ`, `iss`, `aud`, `exp`, `nbf` and the
 * Tessera claims. Says nothing about revocation: that is the session layer's job.
 */
export async function verifyAccessTokenSignature(
  keys: SigningKeySet,
  token: unknown,
  options: VerifyAccessTokenOptions,
): Promise<AccessTokenClaims> {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_ACCESS_TOKEN_LENGTH || !isCanonicalCompact(token)) {
    throw new AccessTokenInvalid('access token is malformed')
  }
  try {
    const { payload, protectedHeader } = await jwtVerify(
      token,
      (header) => {
        const found = typeof header.kid === 'string' ? keys.verificationKey(header.kid, options.nowMs) : undefined
        if (!found || found.alg !== header.alg) throw new AccessTokenInvalid('access token was signed by an unknown key')
        // The high-S twin verifies mathematically; refusing it keeps one spelling per token, as the verifier does.
        if (found.alg === 'ES256' && isHighS(Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url'))) {
          throw new AccessTokenInvalid('access token signature is invalid')
        }
        return found.key
      },
      {
        algorithms: [...options.algorithms],
        issuer: options.issuer,
        audience: options.audience,
        typ: ACCESS_TOKEN_TYPE,
        currentDate: new Date(options.nowMs),
        clockTolerance: options.clockToleranceSeconds ?? 0,
        requiredClaims: ['iss', 'aud', 'sub', 'jti', 'iat', 'exp'],
      },
    )
    const claims = claimsFromPayload(payload, protectedHeader)
    // jose checks iat only against maxTokenAge; a token issued in the future was not issued by a clock we trust (RFC 8725 section 3.10 spirit).
    if (claims.issuedAt > Math.ceil(options.nowMs / 1000) + (options.clockToleranceSeconds ?? 0)) {
      throw new AccessTokenInvalid('access token was issued in the future')
    }
    return claims
  } catch (err) {
    if (err instanceof AccessTokenInvalid) throw err
    if (err instanceof joseErrors.JWTExpired) throw new AccessTokenExpired(undefined, { cause: err })
    throw new AccessTokenInvalid('access token is invalid', { cause: err })
  }
}
