import type { VerifierMode } from './options.js'

/** A snapshot of what a verifier has been doing; times in ms, null when not applicable. */
export interface VerifierMetrics {
  mode: VerifierMode
  cacheHits: number
  cacheMisses: number
  /** Hits over lookups, 0 when nothing was looked up. */
  cacheHitRatio: number
  cacheSize: number
  revocationSetSize: number
  /** For the newest log entry: when it was applied here minus when it was written. */
  logLagMs: number | null
  timeSinceLastEventMs: number | null
  timeSinceLastLogContactMs: number | null
  logState: 'starting' | 'live' | 'disconnected' | 'closed' | null
  logGaps: number
  logReadErrors: number
  /** Requests in cached mode checked in the store (or refused) because the set was not trusted. */
  fallbackChecks: number
  /** Times cached mode stopped trusting its set. */
  fallbacks: number
  /** Store round trips made by strict checks (including fallbacks). */
  storeChecks: number
  /** Cached mode: a heartbeat of the verifier's issuer arrived within `log.issuerSilenceMs`; without one every request is 503. */
  issuerLive: boolean | null
  /** Since the newest heartbeat of the verifier's issuer was received (null: never). */
  timeSinceIssuerHeartbeatMs: number | null
  /** Requests refused with 503 because no live issuer writes the log. */
  issuerSilentRefusals: number
  /** Reads of the log that also checked for a gap (XINFO on Redis), and reads in all. */
  logGapChecks: number
}
