const UNRESERVED = /[A-Za-z0-9\-._~]/

/**
 * The `htu` form of a URL (RFC 9449 section 4.3, check 9): no query, no
 * fragment, no user info, then RFC 3986 syntax- and scheme-based normalisation:
 * lower-case scheme and host, no default port, dot segments removed, an empty
 * path as `/`, percent-encodings upper-case and unreserved characters decoded.
 * Null when `url` is not an absolute http(s) URL.
 *
 * @example
 * ```ts
 * normaliseHtu('HTTPS://Api.Example:443/a/../b%7e?x=1#f') // 'https://api.example/b~'
 * ```
 */
export function normaliseHtu(url: string): string | null {
  if (typeof url !== 'string' || url.length > 4096) return null
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return null
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null
  // WHATWG URL already lower-cases scheme and host, drops the default port and dot segments, and turns '' into '/'.
  const path = parsed.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_match, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16))
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`
  })
  return `${parsed.protocol}//${parsed.host}${path}`
}
