// Tokens and HTTP for the account page.
//
// The refresh token lives only in the HttpOnly `tessera_refresh` cookie (path
// /auth/refresh, SameSite=Strict) that the server sets in browser mode; no
// script sees it. The access token lives only in this module's memory. Every
// other call carries it in the Authorization header, so no state-changing request rides
// on a cookie; the one that does (refresh) also sends the X-Tessera-CSRF
// header, which a cross-site form cannot.
//
// DPoP: where this browser can keep a non-extractable key (dpop.js), sign-in
// binds the session to it and every refresh and API call carries a proof, so
// the cookie copied into another browser refreshes nothing.
//
// Tabs: refreshes go through one Web Lock, so at most one tab refreshes at a
// time; the winner shares the new access token over a BroadcastChannel and the
// others use it instead of refreshing again.

import { dpopLearn, dpopProof, prepareDpopKey } from '/account/dpop.js'

const LOCK_NAME = 'tessera-refresh'
const CHANNEL_NAME = 'tessera-auth'
/** Refresh this long before expiry (capped to a quarter of the lifetime for short tokens). */
const REFRESH_MARGIN_MS = 60_000
/** How long a tab that waited for the lock waits for the winner's token before refreshing itself. */
const SHARED_TOKEN_WAIT_MS = 300

/** @type {{ token: string, tokenType: 'Bearer' | 'DPoP', expiresAtMs: number, lifetimeMs: number, sessionId: string } | null} */
let access = null
/** @type {ReturnType<typeof setTimeout> | undefined} */
let refreshTimer
/** @type {Promise<boolean> | null} */
let refreshing = null
/** True while this tab signs out: no refresh timer is armed (see {@link logout}). */
let signingOut = false
const channel = 'BroadcastChannel' in window ? new BroadcastChannel(CHANNEL_NAME) : null
prepareDpopKey()

/** A failed API call: HTTP status and the problem's stable `code`. */
export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || `request failed (${status})`)
    this.status = status
    this.code = code
  }
}

// ---------------------------------------------------------------- HTTP

/** Where tokens are issued: a proof there binds the session (sign-in) or shows its key (refresh). */
const TOKEN_PATHS = new Set(['/auth/login', '/auth/refresh'])

/**
 * One call to the server. `bearer` is an access token: a bound one (token
 * type DPoP) goes with the DPoP scheme and a proof of this browser's key. A
 * refusal that asks for a server nonce is retried once with the nonce.
 */
export async function send(path, { method = 'GET', body, bearer, headers = {} } = {}) {
  for (let attempt = 0; ; attempt++) {
    const init = { method, headers: { accept: 'application/json', ...headers }, credentials: 'same-origin', cache: 'no-store' }
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json'
      init.body = JSON.stringify(body)
    }
    const bound = bearer && access?.token === bearer && access.tokenType === 'DPoP'
    if (bearer) init.headers.authorization = `${bound ? 'DPoP' : 'Bearer'} ${bearer}`
    if (bound || TOKEN_PATHS.has(path)) {
      const proof = await dpopProof(method, path, bound ? bearer : undefined)
      if (proof) init.headers.dpop = proof
    }
    const res = await fetch(path, init)
    let data = null
    if (res.status !== 204 && res.status !== 202) {
      try {
        data = await res.json()
      } catch {
        data = null
      }
    }
    const retry = dpopLearn(res, res.ok ? '' : (data?.code ?? ''))
    if (res.ok) return data
    if (retry && attempt === 0) continue
    throw new ApiError(res.status, data?.code ?? '', data?.detail ?? data?.title ?? '')
  }
}

/** A call as the signed-in user: refreshes first when the token is stale, and once more on a 401. */
export function api(path, options = {}) {
  return asUser((token) => send(path, { ...options, bearer: token }))
}

/**
 * Runs `call` with the user's access token: refreshes first when the token is
 * missing or about to expire, and once more on a 401 before the one retry.
 * Throws when the session is over.
 */
async function asUser(call) {
  if (!access || access.expiresAtMs - Date.now() < Math.min(5_000, access.lifetimeMs / 5)) {
    if (!(await refresh())) throw signedOutError()
  }
  if (!access) throw signedOutError()
  try {
    return await call(access.token)
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err
    // Revoked elsewhere, or expired on its way or while we slept: one refresh settles which.
    if (!(await refresh({ force: true })) || !access) throw signedOutError()
    return call(access.token)
  }
}

/**
 * Ends this browser's session on the server. No refresh may cross the logout:
 * one the server answered before the logout but whose reply the browser applied
 * after it puts back the cookies the logout cleared (the session hint, and a
 * refresh cookie of the ended session), so the next visit tries a refresh that
 * fails. So the refresh timer stops, a refresh in flight lands first, a stale
 * token is renewed before the call, and the call holds the tabs' refresh lock
 * so no other tab refreshes during it. A 401 (the token expired on its way) is
 * settled by one refresh, after the logout answered, and the logout is sent
 * again. A logout that fails while the session lives (server unreachable)
 * re-arms the timer.
 */
export async function logout() {
  signingOut = true
  clearTimeout(refreshTimer)
  try {
    await refreshing?.catch(() => undefined)
    await asUser((token) => {
      const call = () => send('/auth/logout', { method: 'POST', bearer: token })
      return navigator.locks ? navigator.locks.request(LOCK_NAME, call) : call()
    })
    forget()
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) forget()
    throw err
  } finally {
    signingOut = false
    if (access) scheduleRefresh()
  }
}

function signedOutError() {
  return new ApiError(401, 'ERR_SIGNED_OUT', 'you were signed out')
}

// ---------------------------------------------------------------- tokens

/** Takes a token response (login or refresh) and shares it with the other tabs. */
export function adopt(reply) {
  const lifetimeMs = reply.expires_in * 1000
  access = { token: reply.access_token, tokenType: reply.token_type === 'DPoP' ? 'DPoP' : 'Bearer', expiresAtMs: Date.now() + lifetimeMs, lifetimeMs, sessionId: reply.session_id }
  scheduleRefresh()
  channel?.postMessage({ type: 'token', access })
}

function scheduleRefresh() {
  clearTimeout(refreshTimer)
  if (!access || signingOut) return
  const lifetime = access.expiresAtMs - Date.now()
  const margin = Math.min(REFRESH_MARGIN_MS, lifetime / 4)
  refreshTimer = setTimeout(() => {
    refresh().then(
      (ok) => {
        if (!ok) listeners.signedOut('You were signed out. Sign in again to continue.')
      },
      // Server briefly unreachable: the session is still fine, try again shortly.
      () => {
        refreshTimer = setTimeout(scheduleRefresh, 5_000)
      },
    )
  }, Math.max(lifetime - margin, 0))
}

/**
 * Set by the server beside the HttpOnly refresh cookie: "1" says a session may
 * exist, "0" that this browser was checked and holds none. Nothing secret.
 */
const SESSION_HINT = 'tessera_session_hint'
/** How long "0" is kept after a refused refresh: the refused cookie may stay that long, and Chromium keeps no cookie longer. */
const NO_SESSION_MAX_AGE_SECONDS = 400 * 86_400

/** "1", "0", or null when this browser has no hint at all. */
function sessionHint() {
  const pair = document.cookie.split('; ').find((c) => c.startsWith(`${SESSION_HINT}=`))
  return pair ? pair.slice(SESSION_HINT.length + 1) : null
}

/**
 * Whether a refresh is worth a call. With no hint at all, asks the server once:
 * a browser signed in before the hint existed holds the refresh cookie and no
 * hint, and would otherwise look signed out. The answer is a 204 that sets the
 * hint ("1" or "0") either way, so no visit shows a failed request and the
 * question is not asked again.
 */
async function sessionHinted() {
  if (sessionHint() === null) {
    try {
      await fetch('/auth/refresh/session-hint', { credentials: 'same-origin', cache: 'no-store' })
    } catch {
      // Server unreachable: signed out for this visit; the next one asks again.
    }
  }
  return sessionHint() === '1'
}

/** Turns the hint to "0" after a refused refresh: the refused cookie may remain, and later visits must not ask again. */
function dropSessionHint() {
  document.cookie = `${SESSION_HINT}=0; Max-Age=${NO_SESSION_MAX_AGE_SECONDS}; Path=/; SameSite=Strict`
}

/** Drops the access token (the cookie stays until the server clears it). */
export function forget() {
  access = null
  clearTimeout(refreshTimer)
}

/** The access token for a call made outside {@link api}, or null when signed out. */
export function accessToken() {
  return access?.token ?? null
}

/** Tells the other tabs this browser signed out. */
export function announceSignOut() {
  channel?.postMessage({ type: 'signed-out' })
}

const listeners = {
  /** @type {(message: string) => void} */
  signedOut: () => {},
  /** @type {() => void} */
  signedInElsewhere: () => {},
}

/** Lets the page react when the session ends, or when another tab signs this browser in. */
export function onSessionChange(handlers) {
  Object.assign(listeners, handlers)
}

/**
 * Gets a fresh access token from the refresh cookie. Tabs take turns through a
 * Web Lock; a tab that waited uses the token another tab just shared instead of
 * rotating the cookie again. Resolves false when the session is over.
 */
export function refresh({ force = false } = {}) {
  refreshing ??= (async () => {
    const stale = access?.token
    const run = async (waited) => {
      // The tab that held the lock shares its token as it releases it; the message
      // can land just after our turn starts, so give it a moment before rotating again.
      if (waited && access?.token === stale) await sharedToken(SHARED_TOKEN_WAIT_MS)
      if (access && access.token !== stale && access.expiresAtMs - Date.now() > access.lifetimeMs / 2) return true
      if (!force && access && access.expiresAtMs - Date.now() > Math.min(REFRESH_MARGIN_MS, access.lifetimeMs / 4)) return true
      // Signed out (never signed in, or the server cleared the cookies): a normal state, not a failed request.
      if (!(await sessionHinted())) {
        forget()
        return false
      }
      try {
        const reply = await send('/auth/refresh', {
          method: 'POST',
          body: {},
          headers: { 'x-tessera-client': 'browser', 'x-tessera-csrf': '1' },
        })
        adopt(reply)
        return true
      } catch (err) {
        if (err instanceof ApiError && err.status < 500) {
          forget()
          dropSessionHint()
          return false
        }
        throw err
      }
    }
    try {
      if (!navigator.locks) return await run(false)
      const mine = await navigator.locks.request(LOCK_NAME, { ifAvailable: true }, async (lock) => (lock ? { ok: await run(false) } : null))
      return mine ? mine.ok : await navigator.locks.request(LOCK_NAME, () => run(true))
    } finally {
      refreshing = null
    }
  })()
  return refreshing
}

/** @type {Set<() => void>} */
const tokenWaiters = new Set()

/** Resolves when another tab shares a token, or after `ms`. */
function sharedToken(ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      tokenWaiters.delete(done)
      resolve(undefined)
    }
    const timer = setTimeout(done, ms)
    tokenWaiters.add(done)
  })
}

channel?.addEventListener('message', (event) => {
  const message = event.data
  if (message?.type === 'token' && message.access?.token) {
    for (const wake of [...tokenWaiters]) wake()
    // Same browser, same cookie, same session: take the newer token.
    if (!access || message.access.expiresAtMs > access.expiresAtMs) {
      const wasSignedOut = !access
      access = message.access
      scheduleRefresh()
      if (wasSignedOut) listeners.signedInElsewhere()
    }
  } else if (message?.type === 'signed-out') {
    forget()
    listeners.signedOut('You signed out in another tab.')
  }
})
