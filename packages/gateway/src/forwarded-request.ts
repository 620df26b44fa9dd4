/** The request a proxy asks about, as the gateway learns it from the forward-auth call. */
export interface ForwardedRequest {
  method: string
  /** Path and query of the original request. */
  uri: string
  host: string | null
  proto: string | null
}

function single(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined
  return value
}

/**
 * Recovers the original request from a forward-auth call, for checks that
 * bind a token to it (DPoP's `htm`/`htu`):
 *
 * - Traefik `forwardAuth`, and NGINX with the documented config, send
 *   `X-Forwarded-Method`, `-Uri`, `-Host`, `-Proto`.
 * - Envoy `ext_authz` (HTTP service) keeps the method and host and prepends
 *   its `path_prefix` to the original path.
 *
 * @example
 * ```ts
 * originalRequest('GET', '/forward-auth/orders?x=1', request.headers, '/forward-auth')
 * // { method: 'GET', uri: '/orders?x=1', host: 'api.example', proto: null }
 * ```
 */
export function originalRequest(method: string, url: string, headers: Record<string, string | string[] | undefined>, prefix: string): ForwardedRequest {
  const forwardedUri = single(headers['x-forwarded-uri'])
  let uri = forwardedUri
  if (uri === undefined) {
    const rest = url.startsWith(prefix) ? url.slice(prefix.length) : url
    uri = rest === '' || rest.startsWith('?') ? `/${rest}` : rest
  }
  return {
    method: (single(headers['x-forwarded-method']) ?? method).toUpperCase(),
    uri,
    host: single(headers['x-forwarded-host']) ?? single(headers.host) ?? null,
    proto: single(headers['x-forwarded-proto']) ?? null,
  }
}
