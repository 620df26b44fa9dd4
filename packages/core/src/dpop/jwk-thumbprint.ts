import { createHash } from 'node:crypto'

/** The members of a public JWK that define it (RFC 7638 section 3.2), by key type. */
const REQUIRED_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
}

/** Members that only a private (or symmetric) key has. A DPoP header carrying one publishes a secret. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const

/** A public JWK reduced to its required members, all strings. */
export type PublicJwk = Readonly<Record<string, string>>

/**
 * Checks that `jwk` is a public key of a type Tessera knows and returns only
 * its required members; null for anything else (private members, unknown
 * `kty`, members that are not strings).
 */
export function publicJwk(jwk: unknown): PublicJwk | null {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return null
  const record = jwk as Record<string, unknown>
  for (const name of PRIVATE_MEMBERS) if (name in record) return null
  const members = typeof record.kty === 'string' ? REQUIRED_MEMBERS[record.kty] : undefined
  if (!members) return null
  const out: Record<string, string> = {}
  for (const name of members) {
    const value = record[name]
    if (typeof value !== 'string' || value.length === 0 || value.length > 1400) return null
    out[name] = value
  }
  return out
}

/**
 * RFC 7638 JWK thumbprint (SHA-256, base64url) of a key from {@link publicJwk}:
 * the `jkt` of RFC 9449. The required members in lexicographic order, no
 * whitespace, hashed.
 *
 * @example
 * ```ts
 * const jwk = publicJwk(header.jwk)
 * if (jwk) console.log(jwkThumbprint(jwk)) // "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
 * ```
 */
export function jwkThumbprint(jwk: PublicJwk): string {
  // The members came out of publicJwk in lexicographic order already; JSON.stringify escapes exactly as RFC 7638 asks.
  const canonical = JSON.stringify(Object.fromEntries(Object.keys(jwk).sort().map((name) => [name, jwk[name]])))
  return createHash('sha256').update(canonical).digest('base64url')
}
