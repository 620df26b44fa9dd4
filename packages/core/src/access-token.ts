import { SignJWT, type JWTPayload, type JWTHeaderParameters } from 'jose'
import { toLowS } from './ecdsa-low-s.js'
import { AccessTokenInvalid } from './errors.js'
import { isTokenId, parseSessionId } from './ids.js'
import type { SigningKeySet } from './signing-keys.js'

/** RFC 9068 media type of JWT access tokens. */
export const ACCESS_TOKEN_TYPE = 'at+jwt'
/** Longer tokens are refused before any parsing. */
export const MAX_ACCESS_TOKEN_LENGTH = 8192

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
