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
 * denied token ids and per-user cut-offs (revoke-all, ban). Each entry lives
 * only as long as a token it could reject: sessions and cut-offs until
 * `atMs + revocationTtlMs`, token ids until the token's own expiry. Answers
 * with the same statuses as the store's strict check.
 *
 * @example
 * ```ts
 * const set = new RevocationSet(15 * 60_000)
 * set.apply(entry)
 * set.status({ userId, tokenId, sessionCreatedAtMs, sessionKey: RevocationSet.sessionKey(userId, localId) }) // 'active' | ...
 * ```
 */
export class RevocationSet {
  readonly #revocationTtlMs: number
  readonly #toleranceMs: number
  /** `${userId}\n${localId}` -> forget after (ms). */
  readonly #sessions = new Map<string, number>()
  /** token id -> forget after (ms). */
  readonly #tokens = new Map<string, number>()
  /** user id -> newest cut-off and when to forget it. */
  readonly #cutoffs = new Map<string, { cutoffMs: number; forgetAtMs: number }>()

  /** `toleranceMs`: accepted clock skew, so a denied token id outlives its `exp` by as long as the token may. */
  constructor(revocationTtlMs: number, toleranceMs = 0) {
    this.#revocationTtlMs = revocationTtlMs
    this.#toleranceMs = toleranceMs
  }

  static sessionKey(userId: string, localId: string): string {
    return `${userId}\n${localId}`
  }

  /** Records one log entry. Idempotent, so replaying the log after a reconnect is harmless. */
  apply(entry: RevocationLogEntry): void {
    const event = entry.event
    const forgetAtMs = entry.atMs + this.#revocationTtlMs
    switch (event.kind) {
      case 'session': {
        const key = RevocationSet.sessionKey(event.userId, event.localId)
        this.#sessions.set(key, Math.max(this.#sessions.get(key) ?? 0, forgetAtMs))
        return
      }
      case 'token':
        this.#tokens.set(event.tokenId, Math.max(this.#tokens.get(event.tokenId) ?? 0, event.expiresAtMs + this.#toleranceMs))
        return
      case 'user': {
        const known = this.#cutoffs.get(event.userId)
        this.#cutoffs.set(event.userId, {
          cutoffMs: Math.max(known?.cutoffMs ?? -Infinity, event.cutoffMs),
          forgetAtMs: Math.max(known?.forgetAtMs ?? 0, forgetAtMs),
        })
        return
      }
    }
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
