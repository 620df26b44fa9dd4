import type { DeviceInfo } from './device.js'
import type { RevocationReason } from './revocation-log.js'

/**
 * What a {@link Tessera} instance emits, in-process, after each operation has
 * been stored. The server logs, counts and notifies from these.
 */
export interface TesseraEvents {
  session_created: [{ userId: string; sessionId: string; deviceClass: string; device: Required<DeviceInfo> }]
  session_refreshed: [{ userId: string; sessionId: string; generation: number; retried: boolean }]
  session_revoked: [{ userId: string; sessionId: string; reason: RevocationReason }]
  sessions_revoked: [{ userId: string; count: number; exceptSessionId: string | null; reason: RevocationReason }]
  session_evicted: [{ userId: string; sessionId: string }]
  /** `device`: the revoked session's own, as stored at sign-in (null from a store that does not return it). */
  refresh_reuse_detected: [{ userId: string; sessionId: string; generation: number; device: Required<DeviceInfo> | null }]
  /** A DPoP-bound session's refresh token came without a proof of its key: taken for stolen, the session is revoked. */
  dpop_key_mismatch: [{ userId: string; sessionId: string; generation: number }]
  access_token_denied: [{ userId: string; tokenId: string }]
  user_banned: [{ userId: string; untilMs: number | null; reason: string; sessionsRevoked: number }]
  user_unbanned: [{ userId: string }]
  one_time_token_issued: [{ userId: string; purpose: string }]
  one_time_token_consumed: [{ userId: string; purpose: string }]
}
