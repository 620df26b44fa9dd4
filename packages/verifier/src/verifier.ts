import { EventEmitter } from 'node:events'
import { ATTR, failSpan, withActiveSpan } from '@tessera/core/internal'
import {
  type AccessTokenClaims,
  AccessTokenInvalid,
  AccessTokenRevoked,
  type AccessTokenStatus,
  type IssuerLimits,
  JwsVerifier,
  AuthError,
  checkTokenPresentation,
  DpopKeyMismatch,
  type DpopPresentation,
  DpopProofChecker,
  localIdCreatedAtMs,
  MemoryStore,
  type ParsedAccessToken,
  type RevocationLogEntry,
  SessionRevoked,
  type SessionStore,
  StoreUnavailable,
  type VerificationKey,
} from '@tessera/core'
import type { Span } from '@opentelemetry/api'
import type { KeySource } from './key-source.js'
import { RevocationLogFollower } from './log-follower.js'
import { IssuerWatch } from './issuer-watch.js'
import type { ResolvedVerifierOptions, VerifierMode } from './options.js'
import { RevocationSet } from './revocation-set.js'
import { VerificationCache, type VerifiedToken } from './verification-cache.js'
import type { VerifierMetrics } from './verifier-metrics.js'
import { EVENT, SPAN, tracer, VERIFIER_ATTR } from './telemetry.js'


/** For a promise whose rejection is already reported another way. */
const ignore = (): void => undefined

/**
 * Cached mode refuses to serve: the log it follows shows no live issuer of its
 * `iss` (a mistyped key prefix, the wrong Redis, every issuer down). Code
 * `ERR_STORE_UNAVAILABLE` (503); the message says why and carries no configuration.
 */
export class RevocationLogSilent extends StoreUnavailable {
  constructor(message = 'no live issuer writes the revocation log this verifier follows') {
    super(message)
  }
}

/** Events of a {@link Verifier}. */
export interface VerifierEvents {
  /** Cached mode: log entries were applied; tokens they revoke are refused from now on. */
  revocations: [entries: RevocationLogEntry[]]
}

function errorFor(status: AccessTokenStatus): AuthError | null {
  if (status === 'active') return null
  if (status === 'session_ended') return new SessionRevoked('session has ended or was revoked')
  return new AccessTokenRevoked()
}

/** A store's failure as the verifier reports it: its own AuthError, or StoreUnavailable (fail closed). */
function storeFailure(err: unknown): AuthError {
  return err instanceof AuthError ? err : new StoreUnavailable('session store is unavailable', { cause: err })
}

/**
 * The one verifier every adapter uses: signature and claims on node:crypto,
 * a verified-token cache, and the revocation check of its mode. Make it with
 * {@link createVerifier}.
 *
 * @example
 * ```ts
 * const verifier = await createVerifier({ mode: 'cached', keys, issuer: 'https://auth.example', audience: 'api',
 *   algorithms: ['ES256'], redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'auth:' } })
 * const claims = await verifier.verify(token) // throws AuthError with a stable code
 * ```
 */
export class Verifier extends EventEmitter<VerifierEvents> {
  readonly mode: VerifierMode
  readonly #o: ResolvedVerifierOptions
  readonly #keys: KeySource
  readonly #store: SessionStore | null
  readonly #ownsStore: boolean
  readonly #cache: VerificationCache | null
  readonly #set: RevocationSet | null
  readonly #follower: RevocationLogFollower | null
  readonly #issuer: IssuerWatch
  readonly #jws: JwsVerifier
  readonly #dpop: DpopProofChecker | null
  /** In-process replay cache of a `signature` verifier without a store. */
  readonly #localReplay: MemoryStore | null
  /** Algorithms of the DPoP challenge (`algs`); null when this verifier refuses DPoP. */
  readonly dpopAlgorithms: readonly string[] | null
  #sweeper: NodeJS.Timeout | null = null
  #wasTrusted = true
  #fallbackChecks = 0
  #fallbacks = 0
  #storeChecks = 0
  #issuerSilentRefusals = 0
  #closed = false

  /** Use {@link createVerifier}, which also loads keys and the revocation log. */
  constructor(parts: { options: ResolvedVerifierOptions; keys: KeySource; store: SessionStore | null; ownsStore: boolean }) {
    super()
    const o = parts.options
    this.mode = o.mode
    this.#o = o
    this.#keys = parts.keys
    this.#store = parts.store
    this.#ownsStore = parts.ownsStore
    this.#cache = o.cacheMax > 0 ? new VerificationCache(o.cacheMax) : null
    this.#jws = new JwsVerifier({ issuer: o.issuer, audience: o.audiences, algorithms: o.algorithms, clockToleranceSeconds: o.clockToleranceSeconds })
    const given = o.dpop instanceof DpopProofChecker ? o.dpop : null
    this.#localReplay = o.dpop && !given && !parts.store ? new MemoryStore() : null
    const replay = parts.store ?? this.#localReplay
    this.#dpop = given ?? (o.dpop && !(o.dpop instanceof DpopProofChecker) && replay ? new DpopProofChecker(o.dpop, replay) : null)
    this.dpopAlgorithms = this.#dpop ? this.#dpop.options.algorithms : null
    if (o.mode === 'cached' && parts.store) {
      this.#set = new RevocationSet(o.revocationTtlMs, o.clockToleranceSeconds * 1000)
      this.#follower = new RevocationLogFollower({
        store: parts.store,
        set: this.#set,
        revocationTtlMs: o.revocationTtlMs,
        issuer: o.issuer,
        nowMs: () => o.clock.nowMs(),
        onApplied: (entries) => {
          if (this.listenerCount('revocations') > 0) this.emit('revocations', entries)
        },
        // Heartbeats come only once start() runs, so #issuer (set below) is there by then.
        onHeartbeat: (heartbeat) => this.#issuer.heard(heartbeat),
        ...o.log,
      })
    } else {
      this.#set = null
      this.#follower = null
    }
    this.#issuer = new IssuerWatch(o, this.#set, this.#follower)
  }

  /** The issuer's limits as advertised by its metadata (`issuerMetadataUrl`) and heartbeats, the greatest of each; null when neither was seen. */
  issuerLimits(): Readonly<IssuerLimits> | null {
    return this.#issuer.limits()
  }

  /** Loads the live revocation log (cached mode) before the first token is accepted. */
  async start(): Promise<void> {
    if (this.#o.issuerMetadataUrl) await this.#issuer.loadMetadata(this.#o.issuerMetadataUrl)
    if (!this.#follower || !this.#set) return
    await this.#follower.start()
    this.#issuer.logLoaded(this.#o.clock.nowMs())
    const set = this.#set
    this.#sweeper = setInterval(() => set.sweep(this.#o.clock.nowMs()), Math.min(5000, this.#o.revocationTtlMs || 5000))
    this.#sweeper.unref()
  }

  /**
   * Verifies an access token under this verifier's mode.
   *
   * @throws {AccessTokenInvalid} {@link AccessTokenExpired} {@link AccessTokenRevoked} {@link SessionRevoked} {@link StoreUnavailable}
   */
  async verify(token: string): Promise<AccessTokenClaims> {
    return this.verifyMaybeSync(token)
  }

  /**
   * {@link verify} without a promise when none is needed: a cached token in
   * `signature` or `cached` mode is decided at once (claims returned, or an
   * {@link AuthError} thrown synchronously); a store check or a key fetch gives
   * a promise. For adapters that want no microtask on the hot path.
   *
   * With `presentation` (null for the `Bearer` scheme, the request's proof for
   * `DPoP`) it also checks how the token came, as {@link checkPresentation}
   * does; a proof's replay-cache call then runs beside the store check of a
   * strict verifier instead of after it. A token's own failure (invalid,
   * revoked, store unavailable) is reported before a proof's.
   *
   * @example
   * ```ts
   * const result = verifier.verifyMaybeSync(token)
   * const claims = result instanceof Promise ? await result : result
   * ```
   */
  verifyMaybeSync(token: string, presentation?: DpopPresentation | null): AccessTokenClaims | Promise<AccessTokenClaims> {
    const span = tracer.startSpan(SPAN.verify)
    // The hot path with no SDK (or a trace not sampled): nothing more than the span above. A non-recording span needs no end.
    if (!span.isRecording()) return this.#verify(token, null, presentation)
    span.setAttribute(ATTR.verifyMode, this.mode)
    if (this.#store) span.setAttribute(ATTR.storeKind, this.#store.kind ?? 'custom')
    let result: AccessTokenClaims | Promise<AccessTokenClaims>
    try {
      result = withActiveSpan(span, () => this.#verify(token, span, presentation))
    } catch (err) {
      failSpan(span, err)
      span.end()
      throw err
    }
    if (!(result instanceof Promise)) {
      span.setAttribute(ATTR.outcome, 'valid')
      span.end()
      return result
    }
    return result.then(
      (claims) => {
        span.setAttribute(ATTR.outcome, 'valid')
        span.end()
        return claims
      },
      (err: unknown) => {
        failSpan(span, err)
        span.end()
        throw err
      },
    )
  }

  #verify(token: string, span: Span | null, presentation: DpopPresentation | null | undefined): AccessTokenClaims | Promise<AccessTokenClaims> {
    const nowMs = this.#o.clock.nowMs()
    const cached = this.#fromCache(token, nowMs)
    span?.setAttribute(VERIFIER_ATTR.cacheHit, cached !== undefined)
    const verified = cached ?? this.#verifyCold(token, nowMs)
    if (verified === undefined) {
      return this.#verifyAfterKeyRefresh(token, nowMs).then((v) => (presentation === undefined ? this.#decide(v, nowMs, span) : this.#decidePresented(v, token, presentation, nowMs, span)))
    }
    return presentation === undefined ? this.#decide(verified, nowMs, span) : this.#decidePresented(verified, token, presentation, nowMs, span)
  }

  /**
   * {@link #decide} and {@link checkPresentation} together. The proof needs only
   * the token's claims, so its checks run first and its replay-cache call goes
   * out beside the store check (one round trip of waiting, not two); the token's
   * verdict still comes first when both fail.
   */
  #decidePresented(verified: VerifiedToken, token: string, presentation: DpopPresentation | null, nowMs: number, span: Span | null): AccessTokenClaims | Promise<AccessTokenClaims> {
    let marking: Promise<void> | undefined
    let refused = false
    let refusal: unknown
    try {
      marking = this.checkPresentation(verified.claims, token, presentation)
    } catch (err) {
      refused = true
      refusal = err
    }
    let decided: AccessTokenClaims | Promise<AccessTokenClaims>
    try {
      decided = this.#decide(verified, nowMs, span)
    } catch (err) {
      // The token's own refusal wins; a replay write in flight then has nobody to tell.
      marking?.catch(ignore)
      throw err
    }
    // The bearer hot path (decided at once, nothing to mark) allocates nothing here.
    if (!(decided instanceof Promise)) {
      if (refused) throw refusal
      return marking === undefined ? decided : marking.then(() => decided)
    }
    // Settled into a value at once: a replay refusal that arrives while the store check is pending is not an unhandled rejection.
    const marked = marking?.then(
      () => null,
      (error: unknown) => ({ error }),
    )
    return decided.then((claims) => {
      if (refused) throw refusal
      if (marked === undefined) return claims
      return marked.then((failure) => {
        if (failure) throw failure.error
        return claims
      })
    })
  }

  /**
   * The presentation half of a request (RFC 9449 section 7): whether the
   * token came the way its binding asks. `presentation` is null for the
   * `Bearer` scheme, the request's proof for `DPoP`. Returns undefined when
   * decided at once (a bearer token), or a promise for a DPoP proof's one
   * replay-cache call.
   *
   * @throws {DpopProofInvalid} {@link DpopKeyMismatch} {@link DpopNonceRequired} {@link AccessTokenInvalid}
   */
  checkPresentation(claims: AccessTokenClaims, accessToken: string, presentation: DpopPresentation | null): undefined | Promise<void> {
    const checker = this.#dpop
    if (!checker) {
      if (presentation !== null || claims.keyThumbprint !== null) throw new DpopKeyMismatch('this service does not accept DPoP-bound tokens')
      return undefined
    }
    const nowMs = this.#o.clock.nowMs()
    const proof = checkTokenPresentation(checker, claims, accessToken, presentation, nowMs)
    return proof ? checker.markUsed(proof, nowMs) : undefined
  }

  /** The revocation half: decided here when the mode allows, otherwise by one store check. */
  #decide(verified: VerifiedToken, nowMs: number, span: Span | null): AccessTokenClaims | Promise<AccessTokenClaims> {
    if (this.mode === 'signature') return verified.claims
    if (this.#follower && this.#set) {
      if (!this.#issuer.live(nowMs)) {
        this.#issuerSilentRefusals++
        span?.addEvent(EVENT.issuerSilent)
        throw new RevocationLogSilent()
      }
      const trusted = this.#follower.trusted(nowMs)
      if (trusted !== this.#wasTrusted) {
        if (!trusted) this.#fallbacks++
        this.#wasTrusted = trusted
        // Once per change, on the request that noticed it: where a trace shows why latency moved.
        span?.addEvent(trusted ? EVENT.setTrusted : EVENT.setUntrusted)
      }
      if (trusted && !this.#issuer.outlivesLimit(verified)) {
        const error = errorFor(this.#set.status(verified))
        if (error) throw error
        return verified.claims
      }
      this.#fallbackChecks++
      span?.setAttribute(VERIFIER_ATTR.fallback, trusted ? 'outlives_issuer_limit' : 'untrusted')
      if (!trusted && this.#o.onStale === 'fail') throw new StoreUnavailable('revocation state is not current')
    }
    span?.setAttribute(VERIFIER_ATTR.storeCheck, true)
    return this.#checkInStore(verified, nowMs)
  }

  #fromCache(token: string, nowMs: number): VerifiedToken | undefined {
    const cache = this.#cache
    if (!cache) return undefined
    const entry = cache.get(token, nowMs)
    if (entry === undefined) return undefined
    // The key must still be the one the source hands out: a withdrawn or replaced key voids what it verified.
    if (this.#keys.get(entry.claims.keyId, nowMs)?.key !== entry.key) {
      cache.delete(token)
      return undefined
    }
    return entry
  }

  /** Verifies a token not in the cache; undefined when its key is unknown but the key source could learn it. */
  #verifyCold(token: string, nowMs: number): VerifiedToken | undefined {
    const parsed = this.#jws.parse(token)
    const key = this.#keys.get(parsed.keyId, nowMs)
    if (!key) {
      if (this.#keys.refresh) return undefined
      throw new AccessTokenInvalid('access token was signed by an unknown key')
    }
    return this.#finishCold(token, parsed, key, nowMs)
  }

  async #verifyAfterKeyRefresh(token: string, nowMs: number): Promise<VerifiedToken> {
    const parsed = this.#jws.parse(token)
    const key = (await this.#keys.refresh!(parsed.keyId)) ? this.#keys.get(parsed.keyId, nowMs) : undefined
    if (!key) throw new AccessTokenInvalid('access token was signed by an unknown key')
    return this.#finishCold(token, parsed, key, nowMs)
  }

  #finishCold(token: string, parsed: ParsedAccessToken, key: VerificationKey, nowMs: number): VerifiedToken {
    const claims = this.#jws.verify(parsed, key, nowMs)
    // claimsFromPayload already refused a sid that is not `<16-char localId>.<user>` for this user.
    const localId = claims.sessionId.slice(0, 16)
    const verified: VerifiedToken = {
      claims,
      userId: claims.userId,
      tokenId: claims.tokenId,
      key: key.key,
      validUntilMs: (claims.expiresAt + this.#o.clockToleranceSeconds) * 1000,
      localId,
      sessionCreatedAtMs: localIdCreatedAtMs(localId),
      sessionKey: RevocationSet.sessionKey(claims.userId, localId),
    }
    this.#cache?.set(token, verified)
    return verified
  }

  /**
   * The store's answer: the token's claims, or the error its status (or the
   * store's failure) stands for. One promise per check, not an async function
   * and a `then` after it: this runs on every strict request.
   */
  #checkInStore(verified: VerifiedToken, nowMs: number): Promise<AccessTokenClaims> {
    const store = this.#store
    if (!store) return Promise.reject(new StoreUnavailable('no session store is configured'))
    this.#storeChecks++
    let check: Promise<AccessTokenStatus>
    try {
      check = store.checkAccessToken({
        userId: verified.userId,
        localId: verified.localId,
        sessionCreatedAtMs: verified.sessionCreatedAtMs,
        tokenId: verified.tokenId,
        nowMs,
      })
    } catch (err) {
      return Promise.reject(storeFailure(err))
    }
    return check.then(
      (status) => {
        const error = errorFor(status)
        if (error) throw error
        return verified.claims
      },
      (err: unknown) => {
        throw storeFailure(err)
      },
    )
  }


  /**
   * True when this verifier can decide from what it holds: always in
   * `signature` and `strict` mode; in `cached` mode while its revocation set
   * is current. For readiness probes (a gateway answers 503 or checks the
   * store per request while it is false).
   */
  trustsRevocationState(): boolean {
    return this.#follower ? this.#follower.trusted(this.#o.clock.nowMs()) : true
  }

  /** Drops cached verifications made with key `keyId`, e.g. when it was withdrawn. Returns how many. */
  flushKey(keyId: string): number {
    return this.#cache?.flushKey(keyId) ?? 0
  }

  metrics(): VerifierMetrics {
    const nowMs = this.#o.clock.nowMs()
    const hits = this.#cache?.hits ?? 0
    const misses = this.#cache?.misses ?? 0
    const log = this.#follower?.status()
    return {
      mode: this.mode,
      cacheHits: hits,
      cacheMisses: misses,
      cacheHitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
      cacheSize: this.#cache?.size ?? 0,
      revocationSetSize: this.#set?.size ?? 0,
      logLagMs: log?.lagMs ?? null,
      timeSinceLastEventMs: log?.lastAppliedMs != null ? nowMs - log.lastAppliedMs : null,
      timeSinceLastLogContactMs: log?.lastContactMs != null ? nowMs - log.lastContactMs : null,
      logState: log?.state ?? null,
      logGaps: log?.gaps ?? 0,
      logReadErrors: log?.readErrors ?? 0,
      fallbackChecks: this.#fallbackChecks,
      fallbacks: this.#fallbacks,
      storeChecks: this.#storeChecks,
      issuerLive: this.#follower ? this.#follower.issuerLive(nowMs) : null,
      timeSinceIssuerHeartbeatMs: log?.issuerSeenMs != null ? nowMs - log.issuerSeenMs : null,
      issuerSilentRefusals: this.#issuerSilentRefusals,
      logGapChecks: log?.gapChecks ?? 0,
    }
  }

  /** Stops following the log and closes what the verifier opened itself; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#sweeper) clearInterval(this.#sweeper)
    this.#follower?.close()
    this.#keys.close?.()
    await this.#localReplay?.close()
    if (this.#ownsStore) await this.#store?.close()
  }
}
