import type {} from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { SessionTokens } from '@tessera/core'
import type { ServerContext } from './context.js'
import { DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE_SECONDS, DEVICE_COOKIE_PATH } from './device-cookie.js'
import { HttpProblem } from './http-errors.js'

/** Name and path of the browser-mode refresh cookie (the account page relies on both). */
export const REFRESH_COOKIE = 'tessera_refresh'
export const REFRESH_COOKIE_PATH = '/auth/refresh'
/**
 * Set and cleared with the refresh cookie, readable by page scripts and holding
 * nothing secret: "1" tells the account page a session may exist, "0" that
 * this browser was checked and holds none, so a signed-out visit makes no
 * refresh call at all.
 */
export const SESSION_HINT_COOKIE = 'tessera_session_hint'

/** True when the client asked for browser cookie mode. */
export function isBrowserClient(request: FastifyRequest): boolean {
  return request.headers['x-tessera-client'] === 'browser'
}

function cookieSecure(request: FastifyRequest, ctx: ServerContext): boolean {
  return ctx.cookieSecure || request.protocol === 'https'
}

/**
 * Sends an RFC 6749 section 5.1 token response. In browser mode the refresh
 * token goes into an HttpOnly cookie that only /auth/refresh ever receives,
 * so page scripts never see it.
 */
export function sendTokens(request: FastifyRequest, reply: FastifyReply, ctx: ServerContext, tokens: SessionTokens, browser: boolean) {
  const body: Record<string, unknown> = {
    access_token: tokens.accessToken,
    // RFC 9449 section 5: DPoP when the access token is bound to the proof's key.
    token_type: tokens.tokenType,
    expires_in: Math.max(0, Math.floor(tokens.accessTokenExpiresAtMs / 1000) - Math.floor(Date.now() / 1000)),
    session_id: tokens.sessionId,
  }
  if (browser) {
    reply.setCookie(REFRESH_COOKIE, tokens.refreshToken, {
      httpOnly: true,
      sameSite: 'strict',
      path: REFRESH_COOKIE_PATH,
      secure: cookieSecure(request, ctx),
      maxAge: ctx.auth.options.refreshIdleTtlSeconds,
    })
    setSessionHint(request, reply, ctx, true)
  } else {
    body.refresh_token = tokens.refreshToken
  }
  // RFC 9449 section 8: a fresh nonce with each token response, so clients rarely meet use_dpop_nonce.
  const nonce = ctx.auth.dpop.nonce(ctx.auth.options.clock.nowMs())
  if (nonce !== null) reply.header('dpop-nonce', nonce)
  // RFC 6749 section 5.1: token responses must not be cached.
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(body)
}

/** Sets the session hint: "1" when this browser may hold a session, "0" when it holds no refresh cookie. */
export function setSessionHint(request: FastifyRequest, reply: FastifyReply, ctx: ServerContext, mayHoldSession: boolean): void {
  reply.setCookie(SESSION_HINT_COOKIE, mayHoldSession ? '1' : '0', { sameSite: 'strict', path: '/', secure: cookieSecure(request, ctx), maxAge: ctx.auth.options.refreshIdleTtlSeconds })
}

/** Marks this browser as one that signed in to `email` (see {@link DeviceCookies}); a new device id each time. */
export function setDeviceCookie(request: FastifyRequest, reply: FastifyReply, ctx: ServerContext, email: string): void {
  reply.setCookie(DEVICE_COOKIE, ctx.deviceCookies.issue(email, Date.now()), {
    httpOnly: true,
    sameSite: 'strict',
    path: DEVICE_COOKIE_PATH,
    secure: cookieSecure(request, ctx),
    maxAge: DEVICE_COOKIE_MAX_AGE_SECONDS,
  })
}

/** Expires the browser-mode refresh cookie and its hint. */
export function clearRefreshCookie(request: FastifyRequest, reply: FastifyReply, ctx: ServerContext): void {
  reply.setCookie(REFRESH_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: REFRESH_COOKIE_PATH, secure: cookieSecure(request, ctx), maxAge: 0 })
  reply.setCookie(SESSION_HINT_COOKIE, '', { sameSite: 'strict', path: '/', secure: cookieSecure(request, ctx), maxAge: 0 })
}

/**
 * The refresh token of a refresh request: from the body, or from the cookie
 * after the CSRF checks (custom header, same origin).
 */
export function refreshTokenFrom(request: FastifyRequest, ctx: ServerContext, bodyToken: string | undefined): { token: string; fromCookie: boolean } {
  if (bodyToken) return { token: bodyToken, fromCookie: false }
  const cookie = request.cookies[REFRESH_COOKIE]
  // Not a malformed request: a signed-out browser simply has no cookie. Say so with a code of its own.
  if (!cookie) throw new HttpProblem('ERR_REFRESH_TOKEN_MISSING', 'no refresh token: send refresh_token in the body, or the tessera_refresh cookie in browser mode (this browser is not signed in)')
  if (request.headers['x-tessera-csrf'] !== '1') throw new HttpProblem('ERR_CSRF', 'a cookie refresh needs the header "X-Tessera-CSRF: 1"')
  const origin = request.headers.origin
  if (origin !== undefined) {
    const own = new Set([`${request.protocol}://${request.host}`, new URL(ctx.publicUrl).origin])
    if (!own.has(origin)) throw new HttpProblem('ERR_CSRF', 'the Origin of a cookie refresh must be this server')
  }
  return { token: cookie, fromCookie: true }
}
