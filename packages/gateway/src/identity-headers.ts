import type { AccessTokenClaims } from '@tessera/core'

/** Which request headers carry the identity of a verified request to the upstream. */
export interface IdentityHeaderOptions {
  /** Header naming the user (`sub`). Default `X-Tessera-User`. */
  user?: string
  /** Header naming the session (`sid`). Default `X-Tessera-Session`. */
  session?: string
  /** More claims to pass on: claim name -> header name, e.g. `{ scope: 'X-Tessera-Scope' }`. */
  claims?: Record<string, string>
}

/** {@link IdentityHeaderOptions} after validation: lower-case header names, in a fixed order. */
export interface ResolvedIdentityHeaders {
  user: string
  session: string
  /** [claim name, header name] pairs. */
  claims: [string, string][]
  /** Every header name above, so proxies can be told exactly which ones to overwrite. */
  all: string[]
}

export const DEFAULT_IDENTITY_HEADERS = { user: 'x-tessera-user', session: 'x-tessera-session' } as const

// RFC 9110 token characters; a header name outside them would be refused by the proxy anyway, or worse, split.
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/
// Headers a proxy or the HTTP layer owns: letting a claim overwrite one would be a way to steer the proxy.
const FORBIDDEN = new Set(['authorization', 'cookie', 'host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'www-authenticate', 'location', 'set-cookie'])

// Claim names the core translates (STYLE.md section 3): the gateway reads them from the claims object.
const STANDARD_CLAIMS: Record<string, (claims: AccessTokenClaims) => unknown> = {
  sub: (c) => c.userId,
  sid: (c) => c.sessionId,
  jti: (c) => c.tokenId,
  iat: (c) => c.issuedAt,
  exp: (c) => c.expiresAt,
  iss: (c) => c.issuer,
  kid: (c) => c.keyId,
}

function headerName(option: string, value: unknown): string {
  if (typeof value !== 'string' || !HEADER_NAME.test(value)) throw new TypeError(`"${option}" option must be an HTTP header name`)
  const name = value.toLowerCase()
  if (FORBIDDEN.has(name)) throw new TypeError(`"${option}" option cannot be "${value}": that header belongs to the proxy`)
  return name
}

/**
 * Checks header options once, at construction: names must be valid, distinct,
 * and not a header the proxy owns.
 *
 * @example
 * ```ts
 * const headers = resolveIdentityHeaders({ claims: { scope: 'X-Tessera-Scope' } })
 * headers.all // ['x-tessera-user', 'x-tessera-session', 'x-tessera-scope']
 * ```
 */
export function resolveIdentityHeaders(input: IdentityHeaderOptions = {}): ResolvedIdentityHeaders {
  const user = headerName('headers.user', input.user ?? DEFAULT_IDENTITY_HEADERS.user)
  const session = headerName('headers.session', input.session ?? DEFAULT_IDENTITY_HEADERS.session)
  const claims: [string, string][] = []
  for (const [claim, header] of Object.entries(input.claims ?? {})) {
    if (claim.length === 0) throw new TypeError('"headers.claims" option has an empty claim name')
    claims.push([claim, headerName(`headers.claims.${claim}`, header)])
  }
  const all = [user, session, ...claims.map(([, header]) => header)]
  if (new Set(all).size !== all.length) throw new TypeError('identity header names must be distinct')
  return { user, session, claims, all }
}

// Visible ASCII and space: what every proxy passes unchanged. Anything else (control characters, CR/LF,
// non-ASCII) is percent-encoded so a claim value can never add a header line or be re-read differently.
const PLAIN = /^[\x20-\x24\x26-\x7e]*$/

/** A claim value as one header value: strings as they are, numbers and booleans in JSON, string arrays space-separated, other values as JSON; percent-encoded when not plain visible ASCII (or when it contains `%`). */
export function headerValue(value: unknown): string {
  let text: string
  if (value === undefined || value === null) text = ''
  else if (typeof value === 'string') text = value
  else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) text = value.join(' ')
  else text = JSON.stringify(value)
  return PLAIN.test(text) ? text : encodeURIComponent(text)
}

/**
 * The identity headers for a verified token. Every configured header is
 * present, empty when the token lacks the claim, so a proxy that copies them
 * always overwrites whatever the client sent under the same name.
 */
export function identityHeaders(claims: AccessTokenClaims, headers: ResolvedIdentityHeaders): Record<string, string> {
  const out: Record<string, string> = { [headers.user]: headerValue(claims.userId), [headers.session]: headerValue(claims.sessionId) }
  for (const [claim, header] of headers.claims) {
    const standard = STANDARD_CLAIMS[claim]
    out[header] = headerValue(standard ? standard(claims) : Object.hasOwn(claims.extra, claim) ? claims.extra[claim] : undefined)
  }
  return out
}
