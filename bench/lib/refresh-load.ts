// Load shapes against the auth server: refresh chains and bearer-token mixes.
import type { AutocannonRequest } from 'autocannon'
import type { AuthServer } from './auth-server.js'

/**
 * Requests for POST /auth/refresh that keep refresh chains alive: each request
 * takes a token from a shared queue and puts the rotated one back, so no
 * token is presented twice (autocannon resets per-connection context on each
 * loop, so the queue lives here). Keep at least two tokens per connection,
 * and top the pool up between runs ({@link topUpRefreshPool}): the requests in
 * flight when a run ends are abandoned, and their rotated tokens with them.
 */
export function refreshRequests(pool: string[]): AutocannonRequest[] {
  return [
    {
      method: 'POST',
      path: '/auth/refresh',
      headers: { 'content-type': 'application/json' },
      setupRequest(request) {
        const token = pool.shift()
        if (token === undefined) throw new Error('refresh token pool ran dry: start with more tokens than connections')
        return { ...request, body: JSON.stringify({ refresh_token: token }) }
      },
      onResponse(status, body) {
        if (status === 200) pool.push((JSON.parse(body) as { refresh_token: string }).refresh_token)
      },
    },
  ]
}

/** Requests for GET `path` cycling through `accessTokens` as Bearer tokens. */
export function bearerRequests(path: string, accessTokens: readonly string[]): AutocannonRequest[] {
  let next = 0
  return [
    {
      method: 'GET',
      path,
      setupRequest(request) {
        const token = accessTokens[next++ % accessTokens.length]!
        return { ...request, headers: { authorization: `Bearer ${token}` } }
      },
    },
  ]
}

/** Adds fresh sessions' refresh tokens to `pool` until it holds `size`. */
export async function topUpRefreshPool(server: AuthServer, pool: string[], size: number): Promise<void> {
  if (pool.length >= size) return
  const fresh = await server.createSessions(size - pool.length, `refresher-${Date.now()}-`)
  pool.push(...fresh.map((t) => t.refresh_token))
}
