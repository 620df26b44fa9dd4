import type { AccessTokenStatus, RevocationLogEntry } from '@tessera/core'

/** What the set needs to know about a token. */
export interface RevocationSubject {
  userId: string
  tokenId: string
  sessionCreatedAtMs: number
  /** {@link RevocationSet.sessionKey} of the token's session, built once per token. */
  sessionKey: string
}

/**
 * The in-process revocation state of a cached verifier: revoked sessions,
 * denied token ids and per-user cut-offs (revoke-all, ban). Each entry is
 * kept as long as a token it rejects may still pass the `exp` check here:
 * until the entry's `expiresAtMs` (the latest `exp` of any token it covers,
 * computed by the issuer from the session's last refresh), and at least
 * `horizonMs` after it was applied here, plus the clock tolerance. The first
 * bound holds whatever the clocks of the issuers; the second covers a fleet
 * whose instances disagree on the token lifetime, and entries written before
 * log version 2, which carry no expiry. Answers with the same statuses as the
 * store's strict check.
 *
 * @example
 * ```ts
 * const set = new RevocationSet(15 * 60_000)
 * set.apply(entry, Date.now())
 * set.status({ userId, tokenId, sessionCreatedAtMs, sessionKey: RevocationSet.sessionKey(userId, localId) }) // 'active' | ...
 * ```
 */
export class RevocationSet {
  #horizonMs: number
  readonly #toleranceMs: number
  /** `${userId}\n${localId}` -> forget after (ms). */
  readonly #sessions = new Map<string, number>()
  /** token id -> forget after (ms). */
  readonly #tokens = new Map<string, number>()
  /** user id -> newest cut-off and when to forget it. */
  readonly #cutoffs = new Map<string, { cutoffMs: number; forgetAtMs: number }>()

  /**
   * `horizonMs`: how long after it is applied an entry is kept at least (the
   * issuer's access-token lifetime plus refresh grace). `toleranceMs`: the
   * verifier's clock tolerance, added to every bound as to every `exp` check.
   */
  constructor(horizonMs: number, toleranceMs = 0) {
    this.#horizonMs = horizonMs
    this.#toleranceMs = toleranceMs
  }

  /** The horizon entries are kept for at least; it only ever grows (an issuer advertised longer-lived tokens). */
  get horizonMs(): number {
    return this.#horizonMs
  }

  raiseHorizon(horizonMs: number): void {
    if (horizonMs > this.#horizonMs) this.#horizonMs = horizonMs
  }

  static sessionKey(userId: string, localId: string): string {
    return `${userId}\n${localId}`
  }

  /** Records one log entry, applied at `nowMs` (this verifier's clock). Idempotent, so replaying the log is harmless. */
  apply(entry: RevocationLogEntry, nowMs: number): void {
    const event = entry.event
    const tolerance = this.#toleranceMs
    if (event.kind === 'token') {
      this.#tokens.set(event.tokenId, Math.max(this.#tokens.get(event.tokenId) ?? 0, event.expiresAtMs + tolerance))
      return
    }
    const forgetAtMs = Math.max(event.expiresAtMs ?? -Infinity, nowMs + this.#horizonMs) + tolerance
    if (event.kind === 'session') {
      const key = RevocationSet.sessionKey(event.userId, event.localId)
      this.#sessions.set(key, Math.max(this.#sessions.get(key) ?? 0, forgetAtMs))
      return
    }
    const known = this.#cutoffs.get(event.userId)
    this.#cutoffs.set(event.userId, {
      cutoffMs: Math.max(known?.cutoffMs ?? -Infinity, event.cutoffMs),
      forgetAtMs: Math.max(known?.forgetAtMs ?? 0, forgetAtMs),
    })
  }
  /** The verdict for a token whose signature already verified, as the store's strict check would give it. */
  status(subject: RevocationSubject): AccessTokenStatus {
    if (this.#sessions.size > 0 && this.#sessions.has(subject.sessionKey)) return 'session_ended'
    if (this.#tokens.size > 0 && this.#tokens.has(subject.tokenId)) return 'token_denied'
    if (this.#cutoffs.size > 0) {
      const cutoff = this.#cutoffs.get(subject.userId)
      if (cutoff && subject.sessionCreatedAtMs <= cutoff.cutoffMs) return 'user_revoked'
    }
    return 'active'
  }

  /** Forgets entries that can no longer reject a live token. */
  sweep(nowMs: number): number {
    let removed = 0
    for (const [key, forgetAtMs] of this.#sessions) if (forgetAtMs <= nowMs && this.#sessions.delete(key)) removed++
    for (const [key, forgetAtMs] of this.#tokens) if (forgetAtMs <= nowMs && this.#tokens.delete(key)) removed++
    for (const [key, cutoff] of this.#cutoffs) if (cutoff.forgetAtMs <= nowMs && this.#cutoffs.delete(key)) removed++
    return removed
  }

  get size(): number {
    return this.#sessions.size + this.#tokens.size + this.#cutoffs.size
  }
}
