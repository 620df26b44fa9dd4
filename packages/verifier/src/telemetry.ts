import type { SpanOptions } from '@opentelemetry/api'
import { tesseraTracer } from '@tessera/core/internal'

/** Spans of the verifier (`@tessera/verifier`). */
export const tracer = tesseraTracer('@tessera/verifier')

/** The verifier's spans. `tessera.verify` has the engine's name: one operation, whichever package runs it. */
export const SPAN = {
  verify: 'tessera.verify',
  /** The follower read the whole live log: at start, and again after a gap. */
  logLoad: 'tessera.revocation_log.load',
  /** A read of the log that applied revocations, found a gap, failed first, or succeeded after failures; idle reads make none. */
  logRead: 'tessera.revocation_log.read',
} as const

/** Attributes of the verifier's spans, beside the shared `ATTR` of `@tessera/core`. */
export const VERIFIER_ATTR = {
  /** The token's verification came from the verified-token cache. */
  cacheHit: 'tessera.verify.cache_hit',
  /** Why a cached verifier asked the store: `untrusted` (its set is not current) or `outlives_issuer_limit`. */
  fallback: 'tessera.verify.fallback',
  /** The request cost a store round trip (strict mode, or a cached-mode fallback). */
  storeCheck: 'tessera.verify.store_check',
  /** Revocations a read or load applied. */
  entries: 'tessera.revocation_log.entries',
  /** The read found entries trimmed past the follower's position: the set is untrusted until it has reloaded and waited. */
  gap: 'tessera.revocation_log.gap',
  /** For the newest applied entry: applied here minus written (ms). */
  lagMs: 'tessera.revocation_log.lag_ms',
  /** Why the log was loaded: `start` or `gap`. */
  loadReason: 'tessera.revocation_log.load_reason',
  /** Failed reads before this one succeeded. */
  failedReads: 'tessera.revocation_log.failed_reads',
} as const

/** Span events of the verifier. */
export const EVENT = {
  /** Cached mode stopped trusting its set (no contact for too long, or a gap): requests fall back to the store. */
  setUntrusted: 'tessera.revocation_set.untrusted',
  setTrusted: 'tessera.revocation_set.trusted',
  /** Cached mode refused: no heartbeat of the verifier's issuer is recent. */
  issuerSilent: 'tessera.revocation_log.issuer_silent',
} as const

/** Background work of the follower starts its own traces, not children of whatever started the verifier. */
export const ROOT_SPAN: SpanOptions = { root: true }
