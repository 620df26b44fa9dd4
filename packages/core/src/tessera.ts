import { EventEmitter } from 'node:events'
import { hkdfSync } from 'node:crypto'
import { issueAccessToken, type AccessTokenClaims } from './access-token.js'
import { decodeDeviceMetadata, encodeDeviceMetadata, normaliseDevice, type DeviceInfo } from './device.js'
import { checkTokenPresentation } from './dpop/dpop-binding.js'
import { DpopProofChecker, type DpopPresentation, type VerifiedDpopProof } from './dpop/dpop-proof.js'
import {
  AccessTokenInvalid,
  AccessTokenRevoked,
  AuthError,
  DpopKeyMismatch,
  DpopProofInvalid,
  InvalidInput,
  RefreshTokenReused,
  SessionRevoked,
  StoreUnavailable,
} from './errors.js'
import { EngineContext } from './engine-context.js'
import type { TesseraEvents } from './events.js'
import { assertUserId, formatSessionId, isTokenId, localIdCreatedAtMs, newLocalSessionId, newRefreshSecret, newTokenId, parseSessionId } from './ids.js'
import { HeartbeatWriter } from './heartbeat-writer.js'
import { MemoryStore } from './memory-store.js'
import { OneTimeTokens } from './one-time-tokens.js'
import { resolveOptions, resolveTokenKey, type AuthOptions, type ResolvedAuthOptions } from './options.js'
import { formatRefreshToken, parseRefreshToken } from './refresh-token.js'
import type { RevocationLogInfo, RevocationLogRead, RevocationReason } from './revocation-log.js'
import type { SessionStore, StoredSession, UserState } from './session-store.js'
import { JwsVerifier, signingKeyFor } from './jws-verifier.js'
import { SharedSigningKeys } from './shared-signing-keys.js'
import { SigningKeyRotation } from './signing-key-rotation.js'
import { SigningKeySet, type SigningAlgorithm } from './signing-keys.js'
import { TokenSecrets, hashSecret } from './token-secrets.js'
import { ATTR, CORE_ATTR, inSpan, SPAN, tracer } from './telemetry.js'
import { UserBans } from './user-bans.js'
import type { Span } from '@opentelemetry/api'

/** How much of an access token to check. */
export type VerificationMode = 'signature' | 'strict'

/** A session as callers see it. Times are epoch ms. */
export interface SessionInfo {
  sessionId: string
  userId: string
  createdAtMs: number
  lastSeenAtMs: number
  /** When the session ends if nothing happens: the earlier of idle and absolute expiry. */
  expiresAtMs: number
  idleExpiresAtMs: number
  absoluteExpiresAtMs: number
  generation: number
  device: Required<DeviceInfo>
  /** The session's refresh token works only with DPoP proofs of its key. */
  dpopBound: boolean
}

/** What {@link Tessera.inspectToken} found. */
export type TokenInspection =
  | {
      kind: 'refresh_token'
      userId: string
      sessionId: string
      generation: number
      /** The session is live and this is its current refresh token (not a rotated-away one). */
      active: boolean
      /** The live session, or null when it ended. */
      session: SessionInfo | null
    }
  | { kind: 'access_token'; userId: string; sessionId: string; claims: AccessTokenClaims }

/** What sign-in and refresh hand back. */
export interface SessionTokens {
  sessionId: string
  userId: string
  accessToken: string
  /** When the access token expires, epoch ms: the unit of every other `…AtMs` time here (`session.expiresAtMs`). */
  accessTokenExpiresAtMs: number
  /**
   * The same instant in epoch seconds, as in the token's `exp`.
   * @deprecated Use {@link SessionTokens.accessTokenExpiresAtMs}; kept so existing callers go on working.
   */
  accessTokenExpiresAt: number
  refreshToken: string
  /** `DPoP` when the access token is bound to the key of the request's proof (`cnf.jkt`), else `Bearer`. */
  tokenType: 'Bearer' | 'DPoP'
  session: SessionInfo
}

/**
 * The token and session engine. Create one per process with {@link createTessera}.
 *
 * @example
 * ```ts
 * const auth = await createTessera({ issuer: 'https://auth.example', audience: 'api' })
 * const { accessToken, refreshToken } = await auth.createSession({ userId: '42', device: { userAgent } })
 * const claims = await auth.verifyAccessToken(accessToken, { mode: 'strict' })
 * const next = await auth.refreshSession(refreshToken)
 * await auth.revokeSession(claims.sessionId)
 * ```
 */
export class Tessera extends EventEmitter<TesseraEvents> {
  /** The signing keys in use. */
  readonly keys: SigningKeySet
  /** The session store in use. */
  readonly store: SessionStore
  /** Options after defaults. */
  readonly options: Readonly<ResolvedAuthOptions>
  /** The DPoP proof checker of this engine (replay cache in its store). */
  readonly dpop: DpopProofChecker
  readonly #secrets: TokenSecrets
  #jws: { algorithms: string; verifier: JwsVerifier } | null = null
  readonly #tokenKey: Buffer
  readonly #ctx: EngineContext
  readonly #oneTimeTokens: OneTimeTokens
  readonly #bans: UserBans
  readonly #ownsStore: boolean
  readonly #keyRotation: SigningKeyRotation
  readonly #heartbeat: HeartbeatWriter

  /** Use {@link createTessera}; this constructor takes already-made parts. */
  constructor(parts: { keys: SigningKeySet; store: SessionStore; options: ResolvedAuthOptions; tokenKey: Buffer; ownsStore: boolean; sharedKeys?: SharedSigningKeys | null }) {
    super()
    const sharedKeys = parts.sharedKeys ?? null
    this.keys = sharedKeys?.keys ?? parts.keys
    this.store = parts.store
    this.options = parts.options
    this.#ownsStore = parts.ownsStore
    this.#secrets = new TokenSecrets(parts.tokenKey)
    this.#tokenKey = parts.tokenKey
    this.#ctx = new EngineContext({ store: parts.store, options: parts.options, events: this, userHashKey: this.deriveKey('telemetry user hash v1') })
    this.#oneTimeTokens = new OneTimeTokens(this.#ctx, this.#secrets)
    this.#bans = new UserBans(this.#ctx)
    this.#keyRotation = new SigningKeyRotation(this.#ctx, this.keys, sharedKeys)
    this.#heartbeat = new HeartbeatWriter(this.#ctx)
    this.dpop = new DpopProofChecker(parts.options.dpop, {
      markDpopProofUsed: (request) => this.#ctx.callStore(() => this.store.markDpopProofUsed(request)),
    })
  }

  /**
   * A 32-byte key for the application's own MACs (rate-limiter keys, signed
   * cookies), derived from the token key with HKDF and `label`, so every
   * instance sharing the token key derives the same one and no label's key
   * reveals another's or the token key.
   *
   * @example
   * ```ts
   * const key = auth.deriveKey('rate-limiter keys v1')
   * ```
   */
  deriveKey(label: string): Buffer {
    if (typeof label !== 'string' || label.length === 0 || label.length > 100) throw new TypeError('"label" must be a string of 1-100 characters')
    return Buffer.from(hkdfSync('sha256', this.#tokenKey, Buffer.alloc(0), `tessera app key v1: ${label}`, 32))
  }

  /** Algorithms accepted on verification. */
  get algorithms(): SigningAlgorithm[] {
    return this.options.algorithms ?? this.keys.algorithms()
  }

  /**
   * A user as telemetry may name them: HMAC-SHA-256 of the user id under a key
   * derived from the token key, 16 hex characters. The same for one user on
   * every instance sharing the token key; not reversible, and not computable
   * by whoever reads the traces (a plain hash of an email-like id would be).
   */
  userHash(userId: string): string {
    return this.#ctx.userHash(userId)
  }

  #sessionInfo(userId: string, stored: StoredSession): SessionInfo {
    return {
      sessionId: formatSessionId(userId, stored.localId),
      userId,
      createdAtMs: stored.createdAtMs,
      lastSeenAtMs: stored.lastSeenAtMs,
      expiresAtMs: Math.min(stored.idleExpiresAtMs, stored.absoluteExpiresAtMs),
      idleExpiresAtMs: stored.idleExpiresAtMs,
      absoluteExpiresAtMs: stored.absoluteExpiresAtMs,
      generation: stored.generation,
      device: decodeDeviceMetadata(stored.metadata, stored.deviceClass),
      dpopBound: stored.dpopBound,
    }
  }

  /**
   * The key thumbprint a sign-in or refresh binds to: from a valid proof
   * (checked in full, replay included), or undefined when the request carries
   * none and DPoP is not required.
   */
  async #proofThumbprint(dpop: DpopPresentation | VerifiedDpopProof | undefined, nowMs: number): Promise<string | undefined> {
    if (dpop !== undefined && 'thumbprint' in dpop) return dpop.thumbprint
    if (dpop === undefined || dpop.proof === undefined) {
      if (this.options.dpop.required) throw new DpopProofInvalid('this server requires DPoP: send a DPoP proof')
      return undefined
    }
    return (await this.dpop.check(dpop, {}, nowMs)).thumbprint
  }

  async #issueAccess(userId: string, sessionId: string, nowMs: number, keyThumbprint: string | undefined): Promise<{ token: string; expiresAt: number }> {
    const o = this.options
    return issueAccessToken(this.keys, {
      userId,
      sessionId,
      tokenId: newTokenId(),
      nowMs,
      ttlSeconds: o.accessTokenTtlSeconds,
      issuer: o.issuer,
      audience: o.audience,
      ...(keyThumbprint === undefined ? {} : { keyThumbprint }),
      extraClaims: o.extraClaims ? await o.extraClaims(userId, sessionId) : undefined,
    })
  }

  /**
   * Signs a user in on one device: a new session (generation 1) and its first
   * token pair. Applies the user's session limit and refuses banned users.
   * With `dpop` (the request's `DPoP` header, method and URL) and a valid
   * proof, the session is bound to the proof's key: the access token carries
   * `cnf.jkt` and the refresh token works only with proofs of that key.
   * `dpop` may also be a proof the caller already checked with
   * `tessera.dpop.check` (a sign-in route that checks it before the password).
   *
   * @throws {UserBanned} {@link SessionLimitReached} {@link InvalidInput} {@link DpopProofInvalid} {@link StoreUnavailable}
   */
  createSession(input: { userId: string; device?: DeviceInfo; dpop?: DpopPresentation | VerifiedDpopProof }): Promise<SessionTokens> {
    return inSpan(tracer, SPAN.createSession, undefined, (span) => this.#createSession(input, span))
  }

  async #createSession(input: { userId: string; device?: DeviceInfo; dpop?: DpopPresentation | VerifiedDpopProof }, span: Span): Promise<SessionTokens> {
    const { userId } = input
    assertUserId(userId)
    const device = normaliseDevice(input.device)
    const o = this.options
    const nowMs = this.#ctx.nowMs()
    const keyThumbprint = await this.#proofThumbprint(input.dpop, nowMs)
    const secret = newRefreshSecret()
    let localId = newLocalSessionId(nowMs)
    const request = {
      userId,
      nowMs,
      idleExpiresAtMs: nowMs + o.refreshIdleTtlSeconds * 1000,
      absoluteExpiresAtMs: nowMs + o.refreshAbsoluteTtlSeconds * 1000,
      refreshSecretHash: hashSecret(secret, keyThumbprint),
      dpopBound: keyThumbprint !== undefined,
      deviceClass: device.deviceClass,
      metadata: encodeDeviceMetadata(device),
      limits: o.limits,
      revocationTtlMs: o.revocationTtlMs,
      tokenHorizonMs: o.tokenHorizonMs,
    }
    let result = await this.#ctx.callStore(() => this.store.createSession({ ...request, localId }))
    if (!result.ok) {
      // The user was revoked-all within this millisecond (or our clock lags the revoker's):
      // the session id must say it was made after the cut-off, or verifiers would reject it.
      localId = newLocalSessionId(result.cutoffMs + 1)
      result = await this.#ctx.callStore(() => this.store.createSession({ ...request, localId }))
      if (!result.ok) throw new StoreUnavailable('could not order the new session after a concurrent revocation')
    }
    const sessionId = formatSessionId(userId, localId)
    this.#ctx.describe(span, userId, { [ATTR.outcome]: 'created', [CORE_ATTR.deviceClass]: device.deviceClass, [CORE_ATTR.dpopBound]: keyThumbprint !== undefined, [CORE_ATTR.evictedCount]: result.evicted.length })
    for (const evicted of result.evicted) this.emit('session_evicted', { userId, sessionId: formatSessionId(userId, evicted) })
    this.emit('session_created', { userId, sessionId, deviceClass: device.deviceClass, device })
    const access = await this.#issueAccess(userId, sessionId, nowMs, keyThumbprint)
    return {
      sessionId,
      userId,
      accessToken: access.token,
      accessTokenExpiresAtMs: access.expiresAt * 1000,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken: formatRefreshToken(this.#secrets, sessionId, 1, secret),
      tokenType: keyThumbprint === undefined ? 'Bearer' : 'DPoP',
      session: this.#sessionInfo(userId, {
        localId,
        generation: 1,
        createdAtMs: localIdCreatedAtMs(localId),
        lastSeenAtMs: nowMs,
        idleExpiresAtMs: request.idleExpiresAtMs,
        absoluteExpiresAtMs: request.absoluteExpiresAtMs,
        deviceClass: device.deviceClass,
        metadata: request.metadata,
        dpopBound: request.dpopBound,
      }),
    }
  }

  /**
   * Exchanges a refresh token for a new pair, per the rotation contract: one
   * store round trip; the presented token stops working; a retry with it inside
   * the grace window gets the same successor; a superseded token after the
   * window revokes the whole session. A DPoP-bound session refreshes only
   * with a proof of its key (RFC 9449 section 5); without one, or with another
   * key's, the token is taken for stolen: the session is revoked. An unbound
   * session refreshed with a proof becomes bound to that key.
   *
   * @throws {RefreshTokenInvalid} {@link RefreshTokenExpired} {@link RefreshTokenReused} {@link DpopKeyMismatch} {@link DpopProofInvalid} {@link SessionNotFound} {@link StoreUnavailable}
   */
  refreshSession(refreshToken: string, options: { dpop?: DpopPresentation } = {}): Promise<SessionTokens> {
    return inSpan(tracer, SPAN.refresh, undefined, (span) => this.#refreshSession(refreshToken, options, span))
  }

  async #refreshSession(refreshToken: string, options: { dpop?: DpopPresentation }, span: Span): Promise<SessionTokens> {
    const parts = parseRefreshToken(this.#secrets, refreshToken)
    const o = this.options
    const nowMs = this.#ctx.nowMs()
    const keyThumbprint = await this.#proofThumbprint(options.dpop, nowMs)
    this.#ctx.describe(span, parts.userId)
    const successor = this.#secrets.successorSecret(parts.sessionId, parts.generation + 1, parts.secret)
    let rotated
    try {
      rotated = await this.#ctx.callStore(() =>
        this.store.rotateRefreshToken({
          userId: parts.userId,
          localId: parts.localId,
          generation: parts.generation,
          presentedHash: hashSecret(parts.secret),
          presentedBoundHash: keyThumbprint === undefined ? null : hashSecret(parts.secret, keyThumbprint),
          successorHash: hashSecret(successor, keyThumbprint),
          bind: keyThumbprint !== undefined,
          nowMs,
          idleTtlMs: o.refreshIdleTtlSeconds * 1000,
          graceMs: o.refreshGraceSeconds * 1000,
          revocationTtlMs: o.revocationTtlMs,
          tokenHorizonMs: o.tokenHorizonMs,
        }),
      )
    } catch (err) {
      if (err instanceof RefreshTokenReused) {
        const stored = err.storedDevice
        this.emit('refresh_reuse_detected', {
          userId: parts.userId,
          sessionId: parts.sessionId,
          generation: parts.generation,
          device: stored ? decodeDeviceMetadata(stored.metadata, stored.deviceClass) : null,
        })
        this.emit('session_revoked', { userId: parts.userId, sessionId: parts.sessionId, reason: 'refresh_reuse_detected' })
      }
      if (err instanceof DpopKeyMismatch) {
        this.emit('dpop_key_mismatch', { userId: parts.userId, sessionId: parts.sessionId, generation: parts.generation })
        this.emit('session_revoked', { userId: parts.userId, sessionId: parts.sessionId, reason: 'dpop_key_mismatch' })
      }
      throw err
    }
    const generation = parts.generation + 1
    if (span.isRecording()) span.setAttribute(ATTR.outcome, rotated.outcome)
    this.emit('session_refreshed', { userId: parts.userId, sessionId: parts.sessionId, generation, retried: rotated.outcome === 'retried' })
    const access = await this.#issueAccess(parts.userId, parts.sessionId, nowMs, keyThumbprint)
    return {
      sessionId: parts.sessionId,
      userId: parts.userId,
      accessToken: access.token,
      accessTokenExpiresAtMs: access.expiresAt * 1000,
      accessTokenExpiresAt: access.expiresAt,
      refreshToken: formatRefreshToken(this.#secrets, parts.sessionId, generation, successor),
      tokenType: keyThumbprint === undefined ? 'Bearer' : 'DPoP',
      session: this.#sessionInfo(parts.userId, rotated.session),
    }
  }

  /**
   * Verifies an access token. `signature` checks signature and claims only;
   * `strict` (the default) also asks the store, in one round trip, that the
   * session is alive, the token id is not denied and the user was not revoked.
   * `dpop` says the token came with the `DPoP` scheme and carries the
   * request's proof; without it the token came as `Bearer`. Either way the
   * presentation must fit the token's binding (RFC 9449 section 7). Omit
   * `presentation` only where no request is involved (the token was read from
   * storage): then the binding is not checked at all.
   *
   * @throws {AccessTokenInvalid} {@link AccessTokenExpired} {@link AccessTokenRevoked} {@link SessionRevoked} {@link DpopProofInvalid} {@link DpopKeyMismatch} {@link StoreUnavailable}
   */
  verifyAccessToken(
    token: string,
    options: { mode?: VerificationMode; presentation?: { scheme: 'Bearer' } | { scheme: 'DPoP'; dpop: DpopPresentation } } = {},
  ): Promise<AccessTokenClaims> {
    return inSpan(tracer, SPAN.verify, undefined, (span) => this.#verifyAccessToken(token, options, span))
  }

  async #verifyAccessToken(
    token: string,
    options: { mode?: VerificationMode; presentation?: { scheme: 'Bearer' } | { scheme: 'DPoP'; dpop: DpopPresentation } },
    span: Span,
  ): Promise<AccessTokenClaims> {
    this.#ctx.describe(span, null, { [ATTR.verifyMode]: options.mode === 'signature' ? 'signature' : 'strict' })
    const jws = this.#jwsVerifier()
    const parsed = jws.parse(token)
    let key = signingKeyFor(this.keys, parsed.keyId, this.#ctx.nowMs())
    if (!key && this.#keyRotation.isShared) {
      // A token naming a key this instance does not know yet may come from a rotation on another instance: look before refusing.
      await this.refreshSigningKeys()
      key = signingKeyFor(this.keys, parsed.keyId, this.#ctx.nowMs())
    }
    if (!key) throw new AccessTokenInvalid('access token was signed by an unknown key')
    const nowMs = this.#ctx.nowMs()
    const claims = jws.verify(parsed, key, nowMs)
    const mode = options.mode ?? 'strict'
    if (mode !== 'signature' && mode !== 'strict') throw new TypeError('"mode" must be "signature" or "strict"')
    const presentation = options.presentation
    if (presentation !== undefined) {
      const proof = checkTokenPresentation(this.dpop, claims, token, presentation.scheme === 'DPoP' ? presentation.dpop : null, nowMs)
      if (proof) await this.dpop.markUsed(proof, nowMs)
    }
    if (mode === 'strict') await this.checkRevocation(claims)
    if (span.isRecording()) span.setAttribute(ATTR.outcome, 'valid')
    return claims
  }

  /**
   * What a token is, changing nothing (for RFC 7662 introspection and RFC 7009 revocation):
   * a refresh token this engine issued, with whether it is still its session's current one,
   * or an access token whose signature and claims verify (revocation is not checked: see
   * {@link checkRevocation}). Null for anything else.
   *
   * @example
   * ```ts
   * const found = await auth.inspectToken(token)
   * if (found) await auth.revokeSession(found.sessionId)
   * ```
   * @throws {StoreUnavailable} when the store cannot say whether a refresh token is current
   */
  async inspectToken(token: string): Promise<TokenInspection | null> {
    let refresh: ReturnType<typeof parseRefreshToken> | null = null
    try {
      refresh = parseRefreshToken(this.#secrets, token)
    } catch {
      // not a refresh token of ours: maybe an access token
    }
    if (refresh) {
      const session = await this.getSession(refresh.sessionId)
      const active = session !== null && session.generation === refresh.generation
      return { kind: 'refresh_token', userId: refresh.userId, sessionId: refresh.sessionId, generation: refresh.generation, active, session }
    }
    try {
      const claims = await this.verifyAccessToken(token, { mode: 'signature' })
      return { kind: 'access_token', userId: claims.userId, sessionId: claims.sessionId, claims }
    } catch (err) {
      if (err instanceof AuthError && err.code === 'ERR_STORE_UNAVAILABLE') throw err
      return null
    }
  }

  /** The store half of strict verification, for verifiers that checked the signature themselves. */
  async checkRevocation(claims: Pick<AccessTokenClaims, 'userId' | 'sessionId' | 'tokenId'>): Promise<void> {
    const session = parseSessionId(claims.sessionId)
    if (!session || session.userId !== claims.userId) throw new AccessTokenRevoked()
    const status = await this.#ctx.callStore(() =>
      this.store.checkAccessToken({
        userId: claims.userId,
        localId: session.localId,
        sessionCreatedAtMs: session.createdAtMs,
        tokenId: claims.tokenId,
        nowMs: this.#ctx.nowMs(),
      }),
    )
    if (status === 'session_ended') throw new SessionRevoked('session has ended or was revoked')
    if (status !== 'active') throw new AccessTokenRevoked()
  }

  /** Ends one session: its refresh token stops working and its access tokens fail strict and cached checks. */
  revokeSession(sessionId: string, options: { reason?: RevocationReason } = {}): Promise<boolean> {
    return inSpan(tracer, SPAN.revokeSession, undefined, (span) => this.#revokeSession(sessionId, options, span))
  }

  async #revokeSession(sessionId: string, options: { reason?: RevocationReason }, span: Span): Promise<boolean> {
    const session = parseSessionId(sessionId)
    if (!session) throw new InvalidInput('sessionId is not a Tessera session id')
    const reason = options.reason ?? 'revoked'
    this.#ctx.describe(span, session.userId, { [CORE_ATTR.reason]: reason })
    const existed = await this.#ctx.callStore(() =>
      this.store.revokeSession({ userId: session.userId, localId: session.localId, nowMs: this.#ctx.nowMs(), reason, revocationTtlMs: this.options.revocationTtlMs, tokenHorizonMs: this.options.tokenHorizonMs }),
    )
    if (span.isRecording()) span.setAttribute(ATTR.outcome, existed ? 'revoked' : 'not_found')
    if (existed) this.emit('session_revoked', { userId: session.userId, sessionId, reason })
    return existed
  }

  /**
   * Ends every session of a user in one atomic step, whatever their number;
   * with `exceptSessionId`, every session but that one ("sign out other devices").
   */
  revokeAllSessions(userId: string, options: { exceptSessionId?: string; reason?: RevocationReason } = {}): Promise<number> {
    return inSpan(tracer, SPAN.revokeAllSessions, undefined, (span) => this.#revokeAllSessions(userId, options, span))
  }

  async #revokeAllSessions(userId: string, options: { exceptSessionId?: string; reason?: RevocationReason }, span: Span): Promise<number> {
    assertUserId(userId)
    let exceptLocalId: string | undefined
    if (options.exceptSessionId !== undefined) {
      const except = parseSessionId(options.exceptSessionId)
      if (!except || except.userId !== userId) throw new InvalidInput('exceptSessionId is not a session of this user')
      exceptLocalId = except.localId
    }
    const reason = options.reason ?? 'revoked'
    this.#ctx.describe(span, userId, { [CORE_ATTR.reason]: reason })
    const count = await this.#ctx.callStore(() =>
      this.store.revokeAllSessions({
        userId,
        nowMs: this.#ctx.nowMs(),
        reason,
        revocationTtlMs: this.options.revocationTtlMs,
        tokenHorizonMs: this.options.tokenHorizonMs,
        ...(exceptLocalId ? { exceptLocalId } : {}) }),
    )
    if (span.isRecording()) span.setAttributes({ [ATTR.outcome]: 'revoked', [CORE_ATTR.sessionCount]: count })
    this.emit('sessions_revoked', { userId, count, exceptSessionId: options.exceptSessionId ?? null, reason })
    return count
  }

  /**
   * Denies one access token (by `jti`) until it expires; its session stays.
   * Pass the token (verified by signature first) or its claims.
   */
  denyAccessToken(token: string | Pick<AccessTokenClaims, 'userId' | 'tokenId' | 'expiresAt'>): Promise<void> {
    return inSpan(tracer, SPAN.denyAccessToken, undefined, (span) => this.#denyAccessToken(token, span))
  }

  async #denyAccessToken(token: string | Pick<AccessTokenClaims, 'userId' | 'tokenId' | 'expiresAt'>, span: Span): Promise<void> {
    const claims = typeof token === 'string' ? await this.verifyAccessToken(token, { mode: 'signature' }) : token
    assertUserId(claims.userId)
    if (!isTokenId(claims.tokenId) || !Number.isFinite(claims.expiresAt)) throw new InvalidInput('tokenId and expiresAt are required')
    const nowMs = this.#ctx.nowMs()
    const expiresAtMs = claims.expiresAt * 1000 + this.options.clockToleranceSeconds * 1000
    this.#ctx.describe(span, claims.userId, { [ATTR.outcome]: expiresAtMs <= nowMs ? 'expired' : 'denied' })
    if (expiresAtMs <= nowMs) return
    await this.#ctx.callStore(() => this.store.denyToken({ userId: claims.userId, tokenId: claims.tokenId, expiresAtMs, nowMs }))
    this.emit('access_token_denied', { userId: claims.userId, tokenId: claims.tokenId })
  }

  /** A user's live sessions, newest first. */
  async listSessions(userId: string): Promise<SessionInfo[]> {
    assertUserId(userId)
    const stored = await this.#ctx.callStore(() => this.store.listSessions(userId, this.#ctx.nowMs()))
    return stored.map((s) => this.#sessionInfo(userId, s)).sort((a, b) => b.createdAtMs - a.createdAtMs)
  }

  /** One live session, or null. */
  async getSession(sessionId: string): Promise<SessionInfo | null> {
    const parts = parseSessionId(sessionId)
    if (!parts) return null
    return (await this.listSessions(parts.userId)).find((s) => s.sessionId === sessionId) ?? null
  }

  /**
   * Bans a user until `until` (a Date or epoch ms) or, without it, until
   * {@link unbanUser}. Every session ends at once and sign-in is refused.
   */
  banUser(userId: string, options: { until?: Date | number; reason?: string } = {}): Promise<number> {
    return this.#bans.ban(userId, options)
  }

  /** Lifts a ban. Returns false when the user was not banned. */
  unbanUser(userId: string): Promise<boolean> {
    return this.#bans.unban(userId)
  }

  /** Whether a user is banned, and their revocation cut-off. */
  getUserState(userId: string): Promise<UserState> {
    return this.#bans.state(userId)
  }

  /** Throws {@link UserBanned} when the user is banned; for sign-in flows that check before the password. */
  assertNotBanned(userId: string): Promise<void> {
    return this.#bans.assertNotBanned(userId)
  }

  /**
   * Issues a one-time token (email verification, password reset, ...). A new
   * token for the same user and purpose replaces the previous one. Only its
   * hash is stored.
   */
  issueOneTimeToken(userId: string, purpose: string, options: { ttlSeconds?: number; data?: string } = {}): Promise<{ token: string; expiresAtMs: number }> {
    return this.#oneTimeTokens.issue(userId, purpose, options)
  }

  /**
   * Consumes a one-time token for `purpose`, exactly once.
   *
   * @throws {OneTimeTokenInvalid} when unknown, used, expired, for another purpose or out of attempts.
   */
  consumeOneTimeToken(token: string, purpose: string): Promise<{ userId: string; data: string }> {
    return this.#oneTimeTokens.consume(token, purpose)
  }

  /**
   * Whether {@link consumeOneTimeToken} would accept `token` for `purpose` now,
   * without using it up or counting an attempt: lets a page say a mailed link is
   * dead before it asks for a new password. A forged or malformed token is false.
   *
   * @example
   * ```ts
   * if (!(await auth.checkOneTimeToken(token, 'password-reset'))) showDeadLink()
   * ```
   */
  checkOneTimeToken(token: string, purpose: string): Promise<boolean> {
    return this.#oneTimeTokens.check(token, purpose)
  }

  /**
   * Ends a user's outstanding one-time tokens: those of `purposes`, or every
   * purpose when absent. Returns how many ended.
   *
   * @example
   * ```ts
   * // after a password change, no reset link mailed earlier may set a password
   * await auth.revokeOneTimeTokens(userId, ['password-reset'])
   * ```
   */
  revokeOneTimeTokens(userId: string, purposes?: readonly string[]): Promise<number> {
    return this.#oneTimeTokens.revoke(userId, purposes)
  }

  /** Reads the revocation log after `position` (null: from the oldest entry kept). */
  readRevocations(after: string | null, options: { count?: number; blockMs?: number } = {}): Promise<RevocationLogRead> {
    return this.#ctx.callStore(() => this.store.readRevocations(after, options))
  }

  /** Where the revocation log stands. */
  revocationLogInfo(): Promise<RevocationLogInfo> {
    return this.#ctx.callStore(() => this.store.revocationLogInfo())
  }

  /**
   * Writes this engine's heartbeat to the revocation log: its issuer and
   * limits (access-token lifetime, clock tolerance, refresh grace). Cached
   * verifiers refuse to serve when no heartbeat of their issuer is recent
   * (a mistyped key prefix, a log nobody writes), and learn from it how long
   * a revocation matters. {@link createTessera} writes one at once and then
   * every `heartbeatIntervalMs`.
   */
  heartbeat(): Promise<void> {
    return this.#heartbeat.write()
  }

  /** Starts the periodic heartbeat (see {@link heartbeat}); called by {@link createTessera}. */
  startHeartbeat(): void {
    this.#heartbeat.start()
  }

  /** True when the signing key set is fleet state kept in the store (`sharedKeys`). */
  get sharesSigningKeys(): boolean {
    return this.#keyRotation.isShared
  }

  /**
   * Makes a new current signing key; the previous one keeps verifying (and
   * stays in the JWKS) until its last token has expired. With `sharedKeys` the
   * new key is written to the store and every instance picks it up;
   * otherwise only this process's set changes (save it yourself).
   *
   * @throws {StoreUnavailable}
   */
  rotateSigningKeys(options: { alg?: SigningAlgorithm } = {}): Promise<{ keyId: string; keyIds: string[] }> {
    return this.#keyRotation.rotate(options)
  }

  /**
   * With `sharedKeys`: resolves once the key set was checked in the store
   * after this call, so a key any instance wrote before is known (checks are
   * shared and rate-limited). Without, resolves at once.
   *
   * @throws {StoreUnavailable}
   */
  refreshSigningKeys(): Promise<void> {
    return this.#keyRotation.refresh()
  }

  /** The engine's {@link JwsVerifier}, made again only when the allowlist changes (a shared key set learned a new algorithm). */
  #jwsVerifier(): JwsVerifier {
    const algorithms = this.algorithms
    const id = algorithms.join(',')
    if (this.#jws?.algorithms !== id) this.#jws = { algorithms: id, verifier: new JwsVerifier({ issuer: this.options.issuer, audience: this.options.audience, algorithms, clockToleranceSeconds: this.options.clockToleranceSeconds }) }
    return this.#jws.verifier
  }

  /** Stops the heartbeat and closes the store if this instance created it. Idempotent. */
  async close(): Promise<void> {
    this.#heartbeat.stop()
    this.#keyRotation.close()
    if (this.#ownsStore) await this.store.close()
  }
}

/**
 * Creates the engine. With no options it runs embedded: a memory store and a
 * freshly generated ES256 key.
 *
 * @example
 * ```ts
 * import { createTessera, SigningKeySet } from '@tessera/core'
 * import { RedisSessionStore } from '@tessera/redis'
 * const auth = await createTessera({
 *   store: await RedisSessionStore.connect({ url: 'redis://127.0.0.1:6379' }),
 *   keys: await SigningKeySet.loadOrCreate('./keys'),
 *   tokenKey: process.env.TESSERA_TOKEN_KEY,
 * })
 * ```
 */
export async function createTessera(options: AuthOptions = {}): Promise<Tessera> {
  const resolved = resolveOptions(options)
  const store: SessionStore = options.store ?? new MemoryStore()
  // Every process of a fleet must authenticate the others' refresh tokens: a random per-process key cannot.
  if (store.shared && options.tokenKey === undefined) throw new TypeError('"tokenKey" option is required with a shared store (every process must use the same key)')
  const tokenKey = resolveTokenKey(options.tokenKey)
  let tessera: Tessera
  if (options.sharedKeys) {
    // A per-process random token key would seal keys that no other instance can open.
    if (options.tokenKey === undefined) throw new TypeError('"tokenKey" option is required with "sharedKeys"')
    const shared = options.sharedKeys === true ? {} : options.sharedKeys
    const sharedKeys = await SharedSigningKeys.open({ ...shared, store, tokenKey, seed: options.keys ?? null, clock: resolved.clock })
    tessera = new Tessera({ keys: sharedKeys.keys, store, options: resolved, tokenKey, ownsStore: options.store === undefined, sharedKeys })
  } else {
    const keys = options.keys ?? (await SigningKeySet.generate())
    tessera = new Tessera({ keys, store, options: resolved, tokenKey, ownsStore: options.store === undefined })
  }
  if (resolved.heartbeatIntervalMs > 0) {
    // The first beat is in the log before anyone can be handed a token of this engine; a store that is down now
    // is not an error here (every operation will say so), only a silence verifiers see.
    await tessera.heartbeat().catch(() => undefined)
    tessera.startHeartbeat()
  }
  return tessera
}
