import { UAParser } from 'ua-parser-js'
import type { SessionInfo } from '@tessera/core'

function label(name: string | undefined, version: string | undefined): string {
  if (!name) return ''
  return version ? `${name} ${version}` : name
}

/**
 * A session as the HTTP API shows it (snake_case, ISO times, browser and OS
 * parsed from the user agent for the account page).
 *
 * @example
 * ```ts
 * sessionView(info, claims.sessionId) // { session_id, created_at, ..., browser: 'Chrome 131', os: 'Windows 10', current: true }
 * ```
 */
export function sessionView(info: SessionInfo, currentSessionId: string | null) {
  const ua = new UAParser(info.device.userAgent).getResult()
  return {
    session_id: info.sessionId,
    created_at: new Date(info.createdAtMs).toISOString(),
    last_seen_at: new Date(info.lastSeenAtMs).toISOString(),
    expires_at: new Date(info.expiresAtMs).toISOString(),
    device_name: info.device.name,
    user_agent: info.device.userAgent,
    browser: label(ua.browser.name, ua.browser.major),
    os: label(ua.os.name, ua.os.version),
    ip: info.device.ip,
    current: info.sessionId === currentSessionId,
    // Its refresh token (and every access token) works only with proofs of one key: copying them is not enough.
    dpop_bound: info.dpopBound,
  }
}
