import { timingSafeEqual } from 'node:crypto'
import { systemClock, type Clock } from './clock.js'
import { DpopKeyMismatch, OneTimeTokenInvalid, RefreshTokenExpired, RefreshTokenInvalid, RefreshTokenReused, SessionLimitReached, SessionNotFound, UserBanned } from './errors.js'
import { localIdCreatedAtMs } from './ids.js'
import {
  REVOCATION_LOG_VERSION,
  comparePositions,
  type IssuerHeartbeat,
  type RevocationEvent,
  type RevocationLogEntry,
  type RevocationLogInfo,
  type RevocationLogRead,
} from './revocation-log.js'
import type {
  AccessTokenStatus,
  AppendHeartbeatRequest,
  BanUserRequest,
  CheckAccessTokenRequest,
  CheckOneTimeTokenRequest,
  ConsumeOneTimeTokenRequest,
  CreateSessionRequest,
  CreateSessionResult,
  DenyTokenRequest,
  IssueOneTimeTokenRequest,
  RevokeOneTimeTokensRequest,
  MarkDpopProofUsedRequest,
  RevokeAllSessionsRequest,
  RevokeSessionRequest,
  RotateRefreshTokenRequest,
  RotateRefreshTokenResult,
  SessionStore,
  StoredSession,
  UserState,
} from './session-store.js'
import type { StoredSigningKeys, WriteSigningKeysRequest, WriteSigningKeysResult } from './signing-key-store.js'

export interface MemorySession extends StoredSession {
  hash: Buffer
  previousHash: Buffer | null
}

interface MemoryUser {
  sessions: Map<string, MemorySession>
  cutoffMs: number | null
  /** Ban end, null when permanent; the field is absent when not banned. */
  ban?: { untilMs: number | null; reason: string }
}

export interface MemoryOneTimeToken {
  hash: Buffer
  expiresAtMs: number
  attempts: number
  data: string
}

/** Kept beyond the longest time a revocation matters: covers skew between the log's clock and the issuers'. */
const LOG_RETENTION_SLACK_MS = 60_000

/** One log entry: a revocation or a heartbeat, at its position. */
export type LogItem = { position: string; entry: RevocationLogEntry; heartbeat?: never } | { position: string; heartbeat: IssuerHeartbeat; entry?: never }

/**
 * Everything a {@link MemoryStore} holds, as plain data, for `memory-store-file.ts`
 * to write to disk. The Buffers are hashes (of refresh and one-time secrets), never secrets.
 */
export interface MemoryStoreState {
  users: { userId: string; sessions: MemorySession[]; cutoffMs: number | null; ban?: { untilMs: number | null; reason: string } }[]
  denied: [string, number][]
  oneTime: [string, MemoryOneTimeToken][]
  dpopProofs: [string, number][]
  log: LogItem[]
  trimmedThrough: string | null
  lastPosition: { ms: number; seq: number }
  logRetentionMs: number
  signingKeys: StoredSigningKeys | null
}

function same(a: Buffer | null, b: Buffer | null): boolean {
  return a !== null && b !== null && a.length === b.length && timingSafeEqual(a, b)
}

function endsAt(s: StoredSession): number {
  return Math.min(s.idleExpiresAtMs, s.absoluteExpiresAtMs)
}

function publicSession(s: MemorySession): StoredSession {
  const { hash: _hash, previousHash: _previous, ...rest } = s
  return { ...rest, metadata: Buffer.from(rest.metadata) }
}

/**
 * The embedded {@link SessionStore}: everything in this process's memory, with
 * the same semantics as the Redis store (limits, rotation, TTLs, the
 * revocation log). The default when no Redis is configured; it serves one
 * process, and its state ends with it unless it is a `PersistentMemoryStore`
 * (memory-store-file.ts), which keeps it in a directory across restarts.
 *
 * @example
 * ```ts
 * const auth = await createTessera({ store: new MemoryStore() })
 * ```
 */
export class MemoryStore implements SessionStore {
  readonly kind = 'memory'
  readonly #users = new Map<string, MemoryUser>()
  readonly #denied = new Map<string, number>()
  readonly #oneTime = new Map<string, MemoryOneTimeToken>()
  /** DPoP proof key -> when it may be forgotten (epoch ms). */
  readonly #dpopProofs = new Map<string, number>()
  readonly #log: LogItem[] = []
  #trimmedThrough: string | null = null
  #lastPosition = { ms: 0, seq: 0 }
  #waiters = new Set<() => void>()
  readonly #clock: Clock
  readonly #sweeper: NodeJS.Timeout
  #logRetentionMs = 0
  #signingKeys: StoredSigningKeys | null = null

  readonly #logClock: Clock

  /**
   * `clock` only drives the background sweep of expired entries; decisions use
   * the times callers pass in. `logClock` stamps log positions, as Redis's own
   * clock stamps stream ids.
   */
  constructor(options: { clock?: Clock; logClock?: Clock; sweepIntervalMs?: number } = {}) {
    this.#clock = options.clock ?? systemClock
    this.#logClock = options.logClock ?? systemClock
    this.#sweeper = setInterval(() => this.sweep(this.#clock.nowMs()), options.sweepIntervalMs ?? 60_000)
    // Housekeeping must not keep the process alive.
    this.#sweeper.unref()
  }

  /** Drops everything whose time has passed, as Redis TTLs would. */
  sweep(nowMs: number): void {
    for (const [userId, user] of this.#users) {
      for (const [id, s] of user.sessions) if (endsAt(s) <= nowMs) user.sessions.delete(id)
      this.#dropIfEmpty(userId, user, nowMs)
    }
    for (const [key, expiresAtMs] of this.#denied) if (expiresAtMs <= nowMs) this.#denied.delete(key)
    for (const [key, token] of this.#oneTime) if (token.expiresAtMs <= nowMs) this.#oneTime.delete(key)
    for (const [key, expiresAtMs] of this.#dpopProofs) if (expiresAtMs <= nowMs) this.#dpopProofs.delete(key)
    this.#trim()
  }

  /** How many entries each part holds: for tests and `stats`, to show that TTLs really clean up. */
  size(): { users: number; sessions: number; deniedTokens: number; oneTimeTokens: number; logEntries: number; dpopProofs: number } {
    let sessions = 0
    for (const user of this.#users.values()) sessions += user.sessions.size
    return {
      users: this.#users.size,
      sessions,
      deniedTokens: this.#denied.size,
      oneTimeTokens: this.#oneTime.size,
      logEntries: this.#log.length,
      dpopProofs: this.#dpopProofs.size,
    }
  }

  /** A copy-free view of the whole state, to be serialised at once (see memory-store-file.ts). */
  exportState(): MemoryStoreState {
    return {
      users: [...this.#users].map(([userId, u]) => ({ userId, sessions: [...u.sessions.values()], cutoffMs: u.cutoffMs, ...(u.ban ? { ban: u.ban } : {}) })),
      denied: [...this.#denied],
      oneTime: [...this.#oneTime],
      dpopProofs: [...this.#dpopProofs],
      log: this.#log,
      trimmedThrough: this.#trimmedThrough,
      lastPosition: this.#lastPosition,
      logRetentionMs: this.#logRetentionMs,
      signingKeys: this.#signingKeys,
    }
  }

  /** Replaces everything with a state {@link exportState} produced (on start, before any call). */
  importState(state: MemoryStoreState): void {
    this.#users.clear()
    for (const u of state.users) {
      this.#users.set(u.userId, { sessions: new Map(u.sessions.map((s) => [s.localId, s])), cutoffMs: u.cutoffMs, ...(u.ban ? { ban: u.ban } : {}) })
    }
    for (const [map, entries] of [
      [this.#denied, state.denied],
      [this.#dpopProofs, state.dpopProofs],
    ] as const) {
      map.clear()
      for (const [k, v] of entries) map.set(k, v)
    }
    this.#oneTime.clear()
    for (const [k, v] of state.oneTime) this.#oneTime.set(k, v)
    this.#log.length = 0
    for (const item of state.log) this.#log.push(item)
    this.#trimmedThrough = state.trimmedThrough
    this.#lastPosition = { ...state.lastPosition }
    this.#logRetentionMs = state.logRetentionMs
    this.#signingKeys = state.signingKeys
  }

  #user(userId: string): MemoryUser {
    let user = this.#users.get(userId)
    if (!user) {
      user = { sessions: new Map(), cutoffMs: null }
      this.#users.set(userId, user)
    }
    return user
  }

  #dropIfEmpty(userId: string, user: MemoryUser, nowMs: number): void {
    const banInForce = user.ban && (user.ban.untilMs === null || user.ban.untilMs > nowMs)
    const cutInForce = user.cutoffMs !== null && user.cutoffMs + this.#logRetentionMs > nowMs
    if (user.sessions.size === 0 && !banInForce && !cutInForce) this.#users.delete(userId)
  }

  #banned(user: MemoryUser | undefined, nowMs: number): boolean {
    return !!user?.ban && (user.ban.untilMs === null || user.ban.untilMs > nowMs)
  }

  #append(event: RevocationEvent, atMs: number, retentionMs: number): void {
    const position = this.#nextPosition(retentionMs)
    this.#push({ position, entry: { position, atMs, event } })
  }

  #nextPosition(retentionMs: number): string {
    this.#logRetentionMs = Math.max(this.#logRetentionMs, retentionMs)
    // Positions follow the log's own clock, like Redis stream ids.
    const ms = Math.max(this.#logClock.nowMs(), this.#lastPosition.ms)
    const seq = ms === this.#lastPosition.ms ? this.#lastPosition.seq + 1 : 0
    this.#lastPosition = { ms, seq }
    return `${ms}-${seq}`
  }

  #push(item: LogItem): void {
    this.#log.push(item)
    this.#trim()
    for (const wake of this.#waiters) wake()
  }

  #trim(): void {
    const minMs = this.#logClock.nowMs() - this.#logRetentionMs
    let drop = 0
    while (drop < this.#log.length && Number(this.#log[drop]!.position.split('-')[0]) < minMs) drop++
    if (drop > 0) {
      this.#trimmedThrough = this.#log[drop - 1]!.position
      this.#log.splice(0, drop)
    }
  }

  async createSession(r: CreateSessionRequest): Promise<CreateSessionResult> {
    const existing = this.#users.get(r.userId)
    if (this.#banned(existing, r.nowMs)) throw new UserBanned(existing!.ban!.untilMs)
    if (existing?.cutoffMs != null && localIdCreatedAtMs(r.localId) <= existing.cutoffMs) return { ok: false, cutoffMs: existing.cutoffMs }
    const user = this.#user(r.userId)
    for (const [id, s] of user.sessions) if (endsAt(s) <= r.nowMs) user.sessions.delete(id)
    const live = [...user.sessions.values()].sort((a, b) => a.createdAtMs - b.createdAtMs || (a.localId < b.localId ? -1 : 1))
    const evict: string[] = []
    let total = live.length
    let inClass = live.filter((s) => s.deviceClass === r.deviceClass).length
    const classLimit = r.limits.perDeviceClass[r.deviceClass] ?? 0
    if (classLimit > 0) {
      for (const s of live) {
        if (inClass < classLimit) break
        if (s.deviceClass === r.deviceClass) {
          evict.push(s.localId)
          inClass--
          total--
        }
      }
    }
    for (const s of live) {
      if (total < r.limits.maxSessions) break
      if (!evict.includes(s.localId)) {
        evict.push(s.localId)
        total--
      }
    }
    if (evict.length > 0 && r.limits.policy === 'deny') throw new SessionLimitReached()
    for (const id of evict) {
      const expiresAtMs = user.sessions.get(id)!.lastSeenAtMs + r.tokenHorizonMs
      user.sessions.delete(id)
      this.#append({ kind: 'session', userId: r.userId, localId: id, reason: 'evicted', expiresAtMs }, r.nowMs, r.revocationTtlMs + LOG_RETENTION_SLACK_MS)
    }
    user.sessions.set(r.localId, {
      localId: r.localId,
      generation: 1,
      createdAtMs: localIdCreatedAtMs(r.localId),
      lastSeenAtMs: r.nowMs,
      idleExpiresAtMs: r.idleExpiresAtMs,
      absoluteExpiresAtMs: r.absoluteExpiresAtMs,
      deviceClass: r.deviceClass,
      metadata: Buffer.from(r.metadata),
      dpopBound: r.dpopBound,
      hash: Buffer.from(r.refreshSecretHash),
      previousHash: null,
    })
    return { ok: true, evicted: evict }
  }

  async rotateRefreshToken(r: RotateRefreshTokenRequest): Promise<RotateRefreshTokenResult> {
    const user = this.#users.get(r.userId)
    const s = user?.sessions.get(r.localId)
    if (!user || !s) throw new SessionNotFound()
    if (endsAt(s) <= r.nowMs) {
      user.sessions.delete(r.localId)
      throw new RefreshTokenExpired()
    }
    if (r.generation === s.generation) {
      const matches = s.dpopBound ? same(s.hash, r.presentedBoundHash) : same(r.presentedHash, s.hash)
      if (!matches) {
        if (s.dpopBound) throw this.#keyMismatch(r, user)
        throw new RefreshTokenInvalid()
      }
      s.generation += 1
      s.previousHash = s.hash
      s.hash = Buffer.from(r.successorHash)
      s.dpopBound = r.bind
      s.lastSeenAtMs = r.nowMs
      s.idleExpiresAtMs = Math.min(r.nowMs + r.idleTtlMs, s.absoluteExpiresAtMs)
      return { outcome: 'rotated', session: publicSession(s) }
    }
    if (r.generation === s.generation - 1) {
      if (!same(r.presentedHash, s.previousHash) && !same(s.previousHash, r.presentedBoundHash)) {
        if (s.dpopBound) throw this.#keyMismatch(r, user)
        throw new RefreshTokenInvalid()
      }
      if (r.nowMs - s.lastSeenAtMs <= r.graceMs && same(r.successorHash, s.hash)) return { outcome: 'retried', session: publicSession(s) }
    }
    if (r.generation < s.generation) {
      user.sessions.delete(r.localId)
      const expiresAtMs = s.lastSeenAtMs + r.tokenHorizonMs
      this.#append({ kind: 'session', userId: r.userId, localId: r.localId, reason: 'refresh_reuse_detected', expiresAtMs }, r.nowMs, r.revocationTtlMs + LOG_RETENTION_SLACK_MS)
      throw new RefreshTokenReused(undefined, { storedDevice: { deviceClass: s.deviceClass, metadata: Buffer.from(s.metadata) } })
    }
    throw new RefreshTokenInvalid()
  }

  /** A bound session's refresh token came without its key: treated as theft, like reuse. */
  #keyMismatch(r: RotateRefreshTokenRequest, user: MemoryUser): DpopKeyMismatch {
    user.sessions.delete(r.localId)
    this.#append({ kind: 'session', userId: r.userId, localId: r.localId, reason: 'dpop_key_mismatch' }, r.nowMs, r.revocationTtlMs + LOG_RETENTION_SLACK_MS)
    return new DpopKeyMismatch('the refresh token is bound to another DPoP key; the session has been revoked')
  }

  async checkAccessToken(r: CheckAccessTokenRequest): Promise<AccessTokenStatus> {
    const user = this.#users.get(r.userId)
    if (user?.cutoffMs != null && r.sessionCreatedAtMs <= user.cutoffMs) return 'user_revoked'
    const s = user?.sessions.get(r.localId)
    if (!s || endsAt(s) <= r.nowMs) return 'session_ended'
    const denied = this.#denied.get(`${r.userId}\0${r.tokenId}`)
    if (denied !== undefined && denied > r.nowMs) return 'token_denied'
    return 'active'
  }

  async revokeSession(r: RevokeSessionRequest): Promise<boolean> {
    const user = this.#users.get(r.userId)
    const s = user?.sessions.get(r.localId)
    if (!user || !s) return false
    user.sessions.delete(r.localId)
    const expiresAtMs = s.lastSeenAtMs + r.tokenHorizonMs
    this.#append({ kind: 'session', userId: r.userId, localId: r.localId, reason: r.reason, expiresAtMs }, r.nowMs, r.revocationTtlMs + LOG_RETENTION_SLACK_MS)
    this.#dropIfEmpty(r.userId, user, r.nowMs)
    return true
  }

  #revokeAll(
    userId: string,
    nowMs: number,
    reason: string,
    retentionMs: number,
    tokenHorizonMs: number,
    keep: string | undefined,
  ): { user: MemoryUser; count: number } {
    const user = this.#user(userId)
    let count = 0
    // The cut-off covers every session ended here, whatever the clock of the instance that created it.
    let newestCreatedMs = nowMs
    let expiresAtMs = nowMs
    for (const [id, s] of user.sessions) {
      if (id === keep) continue
      user.sessions.delete(id)
      if (endsAt(s) > nowMs) count++
      newestCreatedMs = Math.max(newestCreatedMs, s.createdAtMs)
      expiresAtMs = Math.max(expiresAtMs, s.lastSeenAtMs + tokenHorizonMs)
      if (keep !== undefined) {
        this.#append({ kind: 'session', userId, localId: id, reason, expiresAtMs: s.lastSeenAtMs + tokenHorizonMs }, nowMs, retentionMs)
      }
    }
    if (keep === undefined) {
      user.cutoffMs = Math.max(user.cutoffMs ?? 0, newestCreatedMs)
      this.#append({ kind: 'user', userId, cutoffMs: user.cutoffMs, reason, expiresAtMs }, nowMs, retentionMs)
    }
    return { user, count }
  }

  async revokeAllSessions(r: RevokeAllSessionsRequest): Promise<number> {
    const { user, count } = this.#revokeAll(r.userId, r.nowMs, r.reason, r.revocationTtlMs + LOG_RETENTION_SLACK_MS, r.tokenHorizonMs, r.exceptLocalId)
    this.#dropIfEmpty(r.userId, user, r.nowMs)
    return count
  }

  async denyToken(r: DenyTokenRequest): Promise<void> {
    this.#denied.set(`${r.userId}\0${r.tokenId}`, r.expiresAtMs)
    this.#append({ kind: 'token', userId: r.userId, tokenId: r.tokenId, expiresAtMs: r.expiresAtMs }, r.nowMs, Math.max(r.expiresAtMs - r.nowMs, 0) + LOG_RETENTION_SLACK_MS)
  }

  async banUser(r: BanUserRequest): Promise<number> {
    const { user, count } = this.#revokeAll(r.userId, r.nowMs, 'banned', r.revocationTtlMs + LOG_RETENTION_SLACK_MS, r.tokenHorizonMs, undefined)
    user.ban = { untilMs: r.untilMs, reason: r.reason }
    return count
  }

  async unbanUser(r: { userId: string; nowMs: number }): Promise<boolean> {
    const user = this.#users.get(r.userId)
    if (!user?.ban) return false
    const wasInForce = this.#banned(user, r.nowMs)
    delete user.ban
    this.#dropIfEmpty(r.userId, user, r.nowMs)
    return wasInForce
  }

  async getUserState(userId: string, nowMs: number): Promise<UserState> {
    const user = this.#users.get(userId)
    const banned = this.#banned(user, nowMs)
    return {
      banned,
      bannedUntilMs: banned ? user!.ban!.untilMs : null,
      banReason: banned ? user!.ban!.reason : null,
      revokedBeforeMs: user?.cutoffMs ?? null,
    }
  }

  async listSessions(userId: string, nowMs: number): Promise<StoredSession[]> {
    const user = this.#users.get(userId)
    return [...(user?.sessions.values() ?? [])].filter((s) => endsAt(s) > nowMs).map(publicSession)
  }

  async issueOneTimeToken(r: IssueOneTimeTokenRequest): Promise<void> {
    this.#oneTime.set(`${r.userId}\0${r.purpose}`, { hash: Buffer.from(r.secretHash), expiresAtMs: r.expiresAtMs, attempts: 0, data: r.data })
  }

  async consumeOneTimeToken(r: ConsumeOneTimeTokenRequest): Promise<string> {
    const key = `${r.userId}\0${r.purpose}`
    const token = this.#oneTime.get(key)
    if (!token) throw new OneTimeTokenInvalid()
    if (token.expiresAtMs <= r.nowMs) {
      this.#oneTime.delete(key)
      throw new OneTimeTokenInvalid()
    }
    if (!same(r.secretHash, token.hash)) {
      token.attempts += 1
      if (token.attempts >= r.maxAttempts) this.#oneTime.delete(key)
      throw new OneTimeTokenInvalid()
    }
    this.#oneTime.delete(key)
    return token.data
  }

  async checkOneTimeToken(r: CheckOneTimeTokenRequest): Promise<boolean> {
    const token = this.#oneTime.get(`${r.userId}\0${r.purpose}`)
    return token !== undefined && token.expiresAtMs > r.nowMs && same(r.secretHash, token.hash)
  }

  async revokeOneTimeTokens(r: RevokeOneTimeTokensRequest): Promise<number> {
    let count = 0
    for (const key of [...this.#oneTime.keys()]) {
      const [userId, purpose] = key.split('\0') as [string, string]
      if (userId === r.userId && (r.purposes === undefined || r.purposes.includes(purpose)) && this.#oneTime.delete(key)) count += 1
    }
    return count
  }

  async readRevocations(after: string | null, options: { count?: number; blockMs?: number; checkGap?: boolean } = {}): Promise<RevocationLogRead> {
    const count = options.count ?? 1000
    const read = (): RevocationLogRead => {
      const gap = after !== null && this.#trimmedThrough !== null && comparePositions(after, this.#trimmedThrough) < 0
      const items = (after === null ? this.#log : this.#log.filter((e) => comparePositions(e.position, after) > 0)).slice(0, count)
      const entries: RevocationLogEntry[] = []
      const heartbeats: IssuerHeartbeat[] = []
      for (const item of items) {
        if (item.entry) entries.push(item.entry)
        else heartbeats.push(item.heartbeat)
      }
      return { entries, heartbeats, lastPosition: items.at(-1)?.position ?? null, count: items.length, gap }
    }
    const first = read()
    if (first.lastPosition !== null || first.gap || !options.blockMs) return first
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        this.#waiters.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, options.blockMs)
      this.#waiters.add(wake)
    })
    return read()
  }

  async appendHeartbeat(r: AppendHeartbeatRequest): Promise<void> {
    const position = this.#nextPosition(r.retentionMs + LOG_RETENTION_SLACK_MS)
    this.#push({ position, heartbeat: { ...r.heartbeat, position, version: REVOCATION_LOG_VERSION } })
  }

  async revocationLogInfo(): Promise<RevocationLogInfo> {
    return { lastPosition: this.#log.at(-1)?.position ?? this.#trimmedThrough, length: this.#log.length }
  }

  async readSigningKeys(): Promise<StoredSigningKeys | null> {
    return this.#signingKeys
  }

  async signingKeysVersion(): Promise<number> {
    return this.#signingKeys?.version ?? 0
  }

  async writeSigningKeys(r: WriteSigningKeysRequest): Promise<WriteSigningKeysResult> {
    const current = this.#signingKeys
    if ((current?.version ?? 0) !== r.expectedVersion) return { written: false, current }
    this.#signingKeys = { version: r.expectedVersion + 1, document: r.document }
    return { written: true, version: r.expectedVersion + 1 }
  }

  async markDpopProofUsed(r: MarkDpopProofUsedRequest): Promise<boolean> {
    const until = this.#dpopProofs.get(r.proofKey)
    if (until !== undefined && until > r.nowMs) return false
    this.#dpopProofs.set(r.proofKey, r.nowMs + r.ttlMs)
    return true
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper)
    for (const wake of this.#waiters) wake()
  }
}
