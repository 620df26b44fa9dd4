/**
 * The revocation log: every revocation, in order, with a position, plus the
 * issuers' heartbeats. Cached verifiers follow it to keep an in-process
 * revocation set current. The wire format is a protocol of its own, written
 * up for followers in any language in docs/revocation-log.md.
 */

/** Version of the log format this code writes (docs/revocation-log.md, "Versions"). */
export const REVOCATION_LOG_VERSION = 2

/** Why something was revoked. Free text is allowed; these are the words Tessera itself uses. */
export type RevocationReason =
  | 'revoked'
  | 'logout'
  | 'refresh_reuse_detected'
  | 'dpop_key_mismatch'
  | 'evicted'
  | 'banned'
  | 'password_changed'
  | (string & {})

/**
 * One revocation. `user` revokes every session of the user created at or before `cutoffMs`.
 * `expiresAtMs` is the latest `exp` (epoch ms, by the issuers' clocks) of any
 * access token the entry revokes: a follower must remember the entry until then
 * (plus its clock tolerance). Entries written before version 2 have none on
 * `session` and `user` events.
 */
export type RevocationEvent =
  | { kind: 'session'; userId: string; localId: string; reason: RevocationReason; expiresAtMs?: number }
  | { kind: 'user'; userId: string; cutoffMs: number; reason: RevocationReason; expiresAtMs?: number }
  | { kind: 'token'; userId: string; tokenId: string; expiresAtMs: number }

/** An event as read back from the log. */
export interface RevocationLogEntry {
  /** Opaque, ordered; pass the last one seen to read what came after it. */
  position: string
  /** When it happened, by the clock of the process that revoked (epoch ms). */
  atMs: number
  event: RevocationEvent
}

/**
 * An issuer's heartbeat: "an engine of this issuer writes this log, and these
 * are its limits". Every engine attached to a store writes one at start and
 * then periodically, so a follower can tell that its log is alive and belongs
 * to its issuer, and learn how long it must remember revocations.
 */
export interface IssuerHeartbeat {
  position: string
  /** By the clock of the engine that wrote it (epoch ms). */
  atMs: number
  /** `iss` of the tokens this engine issues. */
  issuer: string
  /** Access-token lifetime of the engine. */
  accessTokenTtlSeconds: number
  /** Clock tolerance the engine applies to `exp`/`nbf`/`iat`. */
  clockToleranceSeconds: number
  /** Refresh grace window: a retried refresh may issue a token this long after the session's last refresh. */
  refreshGraceSeconds: number
  /** Log format version the engine writes. */
  version: number
}

/** What an engine writes as its heartbeat. */
export type IssuerHeartbeatFields = Omit<IssuerHeartbeat, 'position' | 'version'>

/** A read from the log. */
export interface RevocationLogRead {
  entries: RevocationLogEntry[]
  heartbeats: IssuerHeartbeat[]
  /**
   * Position of the last entry read, of any kind (kinds this version does not
   * know included), or null when nothing was read: the next read starts after it.
   */
  lastPosition: string | null
  /** How many entries were read, of every kind: fewer than asked for means the reader is at the head. */
  count: number
  /**
   * True when entries after the requested position were already trimmed away:
   * the reader missed events and must not trust its revocation set.
   */
  gap: boolean
}

/** Where the log stands. */
export interface RevocationLogInfo {
  /** Position of the newest entry, or null when the log is empty. */
  lastPosition: string | null
  length: number
}

/** Stream fields of a heartbeat. */
export function heartbeatToFields(h: IssuerHeartbeatFields): string[] {
  return [
    'k', 'h', 'i', h.issuer, 't', String(h.accessTokenTtlSeconds), 'o', String(h.clockToleranceSeconds),
    'g', String(h.refreshGraceSeconds), 'v', String(REVOCATION_LOG_VERSION), 'a', String(h.atMs),
  ]
}

function expiryOf(fields: Record<string, string>): { expiresAtMs?: number } {
  const x = Number(fields.x)
  return fields.x !== undefined && Number.isFinite(x) ? { expiresAtMs: x } : {}
}

/** Reads an entry's fields back; null for an entry this version does not know (a follower skips it). */
export function fieldsToEntry(position: string, fields: Record<string, string>): RevocationLogEntry | null {
  const atMs = Number(fields.a)
  const userId = fields.u
  if (!userId || !Number.isFinite(atMs)) return null
  switch (fields.k) {
    case 's':
      return fields.l ? { position, atMs, event: { kind: 'session', userId, localId: fields.l, reason: fields.r ?? 'revoked', ...expiryOf(fields) } } : null
    case 'u': {
      const cutoffMs = Number(fields.c)
      return Number.isFinite(cutoffMs) ? { position, atMs, event: { kind: 'user', userId, cutoffMs, reason: fields.r ?? 'revoked', ...expiryOf(fields) } } : null
    }
    case 't': {
      const expiresAtMs = Number(fields.x)
      return fields.j && Number.isFinite(expiresAtMs) ? { position, atMs, event: { kind: 'token', userId, tokenId: fields.j, expiresAtMs } } : null
    }
    default:
      return null
  }
}

/** Reads a heartbeat's fields back; null when the entry is not a well-formed heartbeat. */
export function fieldsToHeartbeat(position: string, fields: Record<string, string>): IssuerHeartbeat | null {
  if (fields.k !== 'h' || !fields.i) return null
  const numbers = [fields.a, fields.t, fields.o, fields.g, fields.v ?? '2'].map(Number)
  if (!numbers.every((n) => Number.isFinite(n) && n >= 0)) return null
  const [atMs, ttl, tolerance, grace, version] = numbers as [number, number, number, number, number]
  return { position, atMs, issuer: fields.i, accessTokenTtlSeconds: ttl, clockToleranceSeconds: tolerance, refreshGraceSeconds: grace, version }
}

/** Sorts one raw log entry into a revocation, a heartbeat, or neither (a kind this version does not know). */
export function classifyEntry(
  position: string,
  fields: Record<string, string>,
  into: { entries: RevocationLogEntry[]; heartbeats: IssuerHeartbeat[] },
): void {
  if (fields.k === 'h') {
    const heartbeat = fieldsToHeartbeat(position, fields)
    if (heartbeat) into.heartbeats.push(heartbeat)
    return
  }
  const entry = fieldsToEntry(position, fields)
  if (entry) into.entries.push(entry)
}

/** Compares two positions (`<ms>-<seq>`). */
export function comparePositions(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number)
  const [bm = 0, bs = 0] = b.split('-').map(Number)
  return am - bm || as - bs
}
