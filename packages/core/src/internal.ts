/**
 * Plumbing that Tessera's own packages share (`@tessera/redis`,
 * `@tessera/verifier`, `@tessera/server`): the tracer and span helpers, the
 * coalesced key refresh and the revocation log's field codecs.
 *
 * **Not public API and not covered by semver**: any release may change or
 * remove it. Applications and other libraries use `@tessera/core`.
 */
export { ATTR, failSpan, inSpan, tesseraTracer, withActiveSpan } from './telemetry.js'
export { CoalescedRefresh } from './coalesced-refresh.js'
export { classifyEntry, comparePositions, fieldsToEntry, fieldsToHeartbeat, heartbeatToFields } from './revocation-log.js'
