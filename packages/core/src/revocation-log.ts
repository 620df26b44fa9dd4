/**
 * The revocation log: every revocation, in order, with a position. Cached
 * verifiers follow it to keep an in-process revocation set current.
 */

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

/** One revocation. `user` revokes every session of the user created at or before `cutoffMs`. */
export type RevocationEvent =
  | { kind: 'session'; userId: string; localId: string; reason: RevocationReason }
  | { kind: 'user'; userId: string; cutoffMs: number; reason: RevocationReason }
  | { kind: 'token'; userId: string; tokenId: string; expiresAtMs: number }

/** An event as read back from the log. */
export interface RevocationLogEntry {
  /** Opaque, ordered; pass the last one seen to read what came after it. */
  position: string
  /** When it happened, by the clock of the process that revoked (epoch ms). */
  atMs: number
  event: RevocationEvent
}

/** A read from the log. */
export interface RevocationLogRead {
  entries: RevocationLogEntry[]
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

/** Reads an entry's fields back; null for an entry this version does not know. */
export function fieldsToEntry(position: string, fields: Record<string, string>): RevocationLogEntry | null {
  const atMs = Number(fields.a)
  const userId = fields.u
  if (!userId || !Number.isFinite(atMs)) return null
  switch (fields.k) {
    case 's':
      return fields.l ? { position, atMs, event: { kind: 'session', userId, localId: fields.l, reason: fields.r ?? 'revoked' } } : null
    case 'u':
      return { position, atMs, event: { kind: 'user', userId, cutoffMs: Number(fields.c), reason: fields.r ?? 'revoked' } }
    case 't':
      return fields.j ? { position, atMs, event: { kind: 'token', userId, tokenId: fields.j, expiresAtMs: Number(fields.x) } } : null
    default:
      return null
  }
}

/** Compares two positions (`<ms>-<seq>`). */
export function comparePositions(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number)
  const [bm = 0, bs = 0] = b.split('-').map(Number)
  return am - bm || as - bs
}
