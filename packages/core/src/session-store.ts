import type { IssuerHeartbeatFields, RevocationLogInfo, RevocationLogRead, RevocationReason } from './revocation-log.js'
import type { SigningKeyStore } from './signing-key-store.js'

/**
 * The port between the session engine and where state lives. The Redis store
 * and the memory store implement it with the same behaviour; one contract test
 * suite runs against both. Each method is one round trip (one Lua script) on
 * Redis. Times are epoch ms passed in by the caller: stores never read a clock
 * for decisions. It also holds the fleet's signing key set ({@link SigningKeyStore}).
 */
export interface SessionStore extends SigningKeyStore {
  /**
   * True when other processes share this store (Redis): the engine then requires a
   * `tokenKey`, since a per-process random key would make each process refuse the
   * refresh tokens of the others. Absent or false for a single-process store.
   */
  readonly shared?: boolean
  /** What the store is, for telemetry (`tessera.store.kind`: `memory`, `redis`); absent: `custom`. */
  readonly kind?: string
  createSession(request: CreateSessionRequest): Promise<CreateSessionResult>
  rotateRefreshToken(request: RotateRefreshTokenRequest): Promise<RotateRefreshTokenResult>
  /** Read-only check behind strict verification. */
  checkAccessToken(request: CheckAccessTokenRequest): Promise<AccessTokenStatus>
  revokeSession(request: RevokeSessionRequest): Promise<boolean>
  /** Revokes all of a user's sessions, or all but one. Returns how many were live. */
  revokeAllSessions(request: RevokeAllSessionsRequest): Promise<number>
  denyToken(request: DenyTokenRequest): Promise<void>
  banUser(request: BanUserRequest): Promise<number>
  unbanUser(request: { userId: string; nowMs: number; revocationTtlMs: number }): Promise<boolean>
  getUserState(userId: string, nowMs: number): Promise<UserState>
  listSessions(userId: string, nowMs: number): Promise<StoredSession[]>
  issueOneTimeToken(request: IssueOneTimeTokenRequest): Promise<void>
  consumeOneTimeToken(request: ConsumeOneTimeTokenRequest): Promise<string>
  /** Whether consuming the token now would succeed; changes nothing (no attempt counted), so a page can check a link before it shows a form. */
  checkOneTimeToken(request: CheckOneTimeTokenRequest): Promise<boolean>
  /** Ends a user's outstanding one-time tokens (of the purposes given, or all). Returns how many ended. */
  revokeOneTimeTokens(request: RevokeOneTimeTokensRequest): Promise<number>
  /**
   * Reads log entries after `after` (null: from the oldest kept). `blockMs`
   * waits for new entries. `checkGap: false` lets a store skip the work of
   * telling whether entries after `after` were trimmed (`gap` is then false);
   * a follower asks for it after a (re)connect and periodically.
   */
  readRevocations(after: string | null, options?: { count?: number; blockMs?: number; checkGap?: boolean }): Promise<RevocationLogRead>
  revocationLogInfo(): Promise<RevocationLogInfo>
  /** Appends an issuer heartbeat to the revocation log (docs/revocation-log.md, "Heartbeats"). */
  appendHeartbeat(request: AppendHeartbeatRequest): Promise<void>
  /**
   * The DPoP replay cache, shared by every instance on the store: true the
   * first time `proofKey` is seen within `ttlMs`, false for a replay.
   */
  markDpopProofUsed(request: MarkDpopProofUsedRequest): Promise<boolean>
  /** Closes what the store opened itself; idempotent. */
  close(): Promise<void>
}

/** How many sessions one user may hold, and what happens at the limit. */
export interface SessionLimits {
  maxSessions: number
  policy: 'evict-oldest' | 'deny'
  /** Optional tighter limits per device class, e.g. `{ mobile: 2 }`. */
  perDeviceClass: Readonly<Record<string, number>>
}

/** A session as the store keeps it. */
export interface StoredSession {
  localId: string
  generation: number
  createdAtMs: number
  /** Time of the last refresh (or creation). */
  lastSeenAtMs: number
  idleExpiresAtMs: number
  absoluteExpiresAtMs: number
  deviceClass: string
  /** Opaque device bytes from `encodeDeviceMetadata`. */
  metadata: Buffer
  /** The refresh token works only with a DPoP proof of the session's key (its hash covers the key thumbprint). */
  dpopBound: boolean
}

export interface CreateSessionRequest {
  userId: string
  localId: string
  nowMs: number
  idleExpiresAtMs: number
  absoluteExpiresAtMs: number
  /** Hash of the refresh secret; of secret and key thumbprint when `dpopBound`. */
  refreshSecretHash: Buffer
  dpopBound: boolean
  deviceClass: string
  metadata: Buffer
  limits: SessionLimits
  /** How long a revocation must be remembered: the longest access-token lifetime. */
  revocationTtlMs: number
  /**
   * How long after a session's last refresh one of its access tokens may still
   * be used: access-token lifetime plus refresh grace. Logged revocations carry
   * the latest expiry they cover, computed from it (ms).
   */
  tokenHorizonMs: number
}

export type CreateSessionResult =
  | { ok: true; evicted: string[] }
  /** The local id's creation time is not after the user's revocation cut-off: make a new id after `cutoffMs`. */
  | { ok: false; cutoffMs: number }

export interface RotateRefreshTokenRequest {
  userId: string
  localId: string
  generation: number
  /** Hash of the presented secret alone: what an unbound session stores. */
  presentedHash: Buffer
  /** Hash of the presented secret and the thumbprint of the request's DPoP key; null without a proof. */
  presentedBoundHash: Buffer | null
  /** Hash of the successor secret (and the thumbprint when `bind`). */
  successorHash: Buffer
  /** The request proved a key: the session is (or becomes) bound to it. */
  bind: boolean
  nowMs: number
  idleTtlMs: number
  graceMs: number
  revocationTtlMs: number
  /**
   * How long after a session's last refresh one of its access tokens may still
   * be used: access-token lifetime plus refresh grace. Logged revocations carry
   * the latest expiry they cover, computed from it (ms).
   */
  tokenHorizonMs: number
}

export interface RotateRefreshTokenResult {
  /** `rotated`: the presented token was current. `retried`: it was the previous one, inside the grace window. */
  outcome: 'rotated' | 'retried'
  session: StoredSession
}

export interface CheckAccessTokenRequest {
  userId: string
  localId: string
  sessionCreatedAtMs: number
  tokenId: string
  nowMs: number
}

/** Result of a strict check. */
export type AccessTokenStatus = 'active' | 'session_ended' | 'token_denied' | 'user_revoked'

export interface RevokeSessionRequest {
  userId: string
  localId: string
  nowMs: number
  reason: RevocationReason
  revocationTtlMs: number
  /**
   * How long after a session's last refresh one of its access tokens may still
   * be used: access-token lifetime plus refresh grace. Logged revocations carry
   * the latest expiry they cover, computed from it (ms).
   */
  tokenHorizonMs: number
}

export interface RevokeAllSessionsRequest {
  userId: string
  nowMs: number
  reason: RevocationReason
  revocationTtlMs: number
  /**
   * How long after a session's last refresh one of its access tokens may still
   * be used: access-token lifetime plus refresh grace. Logged revocations carry
   * the latest expiry they cover, computed from it (ms).
   */
  tokenHorizonMs: number
  /** Keep this session. Without it, a user-wide cut-off is recorded too. */
  exceptLocalId?: string
}

export interface DenyTokenRequest {
  userId: string
  tokenId: string
  expiresAtMs: number
  nowMs: number
}

export interface BanUserRequest {
  userId: string
  /** End of the ban (epoch ms), or null for a permanent ban. */
  untilMs: number | null
  reason: string
  nowMs: number
  revocationTtlMs: number
  /**
   * How long after a session's last refresh one of its access tokens may still
   * be used: access-token lifetime plus refresh grace. Logged revocations carry
   * the latest expiry they cover, computed from it (ms).
   */
  tokenHorizonMs: number
}

/** A user's revocation state. */
export interface UserState {
  banned: boolean
  /** End of the ban, null when permanent or not banned. */
  bannedUntilMs: number | null
  banReason: string | null
  /** Sessions created at or before this instant are revoked; null when none is recorded. */
  revokedBeforeMs: number | null
}

export interface IssueOneTimeTokenRequest {
  userId: string
  purpose: string
  secretHash: Buffer
  expiresAtMs: number
  nowMs: number
  /** Opaque text returned on consumption (e.g. the email the token was sent to). */
  data: string
}

export interface ConsumeOneTimeTokenRequest {
  userId: string
  purpose: string
  secretHash: Buffer
  nowMs: number
  maxAttempts: number
}

/** The same as consuming asks, minus the attempt limit: a check changes nothing. */
export type CheckOneTimeTokenRequest = Omit<ConsumeOneTimeTokenRequest, 'maxAttempts'>

export interface AppendHeartbeatRequest {
  heartbeat: IssuerHeartbeatFields
  /** How long the log keeps entries (ms): at least the longest time a revocation matters. */
  retentionMs: number
}

export interface RevokeOneTimeTokensRequest {
  userId: string
  /** Purposes to end; absent: every purpose. */
  purposes?: readonly string[]
}

export interface MarkDpopProofUsedRequest {
  /** Hash of the proof's key and `jti` (base64url, at most 64 characters). */
  proofKey: string
  ttlMs: number
  nowMs: number
}
