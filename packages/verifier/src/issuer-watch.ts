import { type IssuerHeartbeat, type IssuerLimits, revocationHorizonMs } from '@tessera/core'
import { fetchIssuerMetadata } from './issuer-metadata.js'
import type { RevocationLogFollower } from './log-follower.js'
import type { ResolvedVerifierOptions } from './options.js'
import type { RevocationSet } from './revocation-set.js'
import type { VerifiedToken } from './verification-cache.js'

/**
 * What a verifier knows of its issuer: the limits it advertised in its RFC 8414
 * metadata and in its heartbeats in the revocation log, and (cached mode)
 * whether it is live. Owned by one Verifier; says what it notices
 * through the verifier's `onWarning` and refuses a `revocationTtlMs` that the
 * issuer's tokens outlive with a `TypeError`.
 */
export class IssuerWatch {
  readonly #o: ResolvedVerifierOptions
  /** Cached mode only; null otherwise, and so is {@link #follower}. */
  readonly #set: RevocationSet | null
  readonly #follower: RevocationLogFollower | null
  #wasLive: boolean | null = null
  /** Longest access-token lifetime the issuer's heartbeats or metadata advertised (s), null until one is seen. */
  #ttlSeconds: number | null = null
  /** The greatest of each limit the issuer advertised (metadata, heartbeats); null until one is seen. */
  #limits: IssuerLimits | null = null

  constructor(options: ResolvedVerifierOptions, set: RevocationSet | null, follower: RevocationLogFollower | null) {
    this.#o = options
    this.#set = set
    this.#follower = follower
  }

  /** The greatest of each limit advertised so far; null when neither metadata nor a heartbeat was seen. */
  limits(): Readonly<IssuerLimits> | null {
    return this.#limits
  }

  /** Reads the issuer's metadata at `url`; it must be for this verifier's `issuer`. */
  async loadMetadata(url: string): Promise<void> {
    const metadata = await fetchIssuerMetadata(url)
    if (metadata.issuer !== this.#o.issuer) {
      throw new TypeError(`issuer metadata at ${new URL(url).origin} is for issuer ${JSON.stringify(metadata.issuer)}, not the "issuer" option ${JSON.stringify(this.#o.issuer)}`)
    }
    if (!metadata.limits) return
    this.#checkRevocationTtl(metadata.limits, 'metadata')
    this.#adopt(metadata.limits)
  }

  /** Once the follower has read the log at start: checks the newest heartbeat's limits, then says whether the issuer is live. */
  logLoaded(nowMs: number): void {
    const heartbeat = this.#follower!.status().issuerHeartbeat
    if (heartbeat) this.#checkRevocationTtl(heartbeat, 'heartbeat in the revocation log')
    this.live(nowMs)
  }

  /** For the follower's `onHeartbeat`: each heartbeat of this verifier's issuer. */
  heard(heartbeat: IssuerHeartbeat): void {
    const needed = revocationHorizonMs(heartbeat)
    const set = this.#set!
    // While the log loads at start, logLoaded() says this as a configuration error instead.
    if (needed > set.horizonMs && this.#o.revocationTtlGiven && this.#follower?.status().state !== 'starting') {
      this.#o.onWarning(`the issuer's tokens may live ${needed} ms (lifetime + refresh grace + tolerance), longer than "revocationTtlMs" (${this.#o.revocationTtlMs}); remembering revocations that long instead`)
    }
    this.#adopt(heartbeat)
  }

  /**
   * True when the log shows a live issuer of this verifier's `iss`. Says so
   * through `onWarning` when that changes, with the issuers whose heartbeats
   * are there instead (the usual cause: a mistyped key prefix or issuer).
   * Cached mode only.
   */
  live(nowMs: number): boolean {
    const follower = this.#follower!
    const live = follower.issuerLive(nowMs)
    if (live !== this.#wasLive) {
      const wasSilent = this.#wasLive === false
      this.#wasLive = live
      const status = follower.status()
      if (!live) {
        const others = status.otherIssuers.length > 0 ? `; heartbeats of ${status.otherIssuers.map((i) => JSON.stringify(i)).join(', ')} are there instead` : ''
        const silence = status.issuerSeenMs === null ? 'has no heartbeat of' : `has had no heartbeat for ${nowMs - status.issuerSeenMs} ms from`
        this.#o.onWarning(`cached verifier refuses every request (503): the revocation log it follows ${silence} issuer ${JSON.stringify(this.#o.issuer)}${others}; check the key prefix and that the issuer runs`)
      } else if (wasSilent) {
        this.#o.onWarning(`cached verifier serves again: issuer ${JSON.stringify(this.#o.issuer)} writes the revocation log`)
      }
    }
    return live
  }

  /** A token that lives longer than the issuer advertises may outlive what the set remembers: it is checked in the store. */
  outlivesLimit(verified: VerifiedToken): boolean {
    const limit = this.#ttlSeconds
    return limit !== null && verified.claims.expiresAt - verified.claims.issuedAt > limit
  }

  /** Keeps the greatest of each limit the issuer advertised: the longest-lived tokens are the ones to remember for. */
  #adopt(limits: IssuerLimits): void {
    const known = this.#limits
    this.#limits = known
      ? {
          accessTokenTtlSeconds: Math.max(known.accessTokenTtlSeconds, limits.accessTokenTtlSeconds),
          clockToleranceSeconds: Math.max(known.clockToleranceSeconds, limits.clockToleranceSeconds),
          refreshGraceSeconds: Math.max(known.refreshGraceSeconds, limits.refreshGraceSeconds),
        }
      : { accessTokenTtlSeconds: limits.accessTokenTtlSeconds, clockToleranceSeconds: limits.clockToleranceSeconds, refreshGraceSeconds: limits.refreshGraceSeconds }
    this.#set?.raiseHorizon(revocationHorizonMs(limits))
    this.#ttlSeconds = Math.max(this.#ttlSeconds ?? 0, limits.accessTokenTtlSeconds)
  }

  /** A `revocationTtlMs` that was given must cover what the issuer's tokens need; said at start as a configuration error. */
  #checkRevocationTtl(limits: IssuerLimits, source: string): void {
    const o = this.#o
    const needed = revocationHorizonMs(limits)
    if (o.revocationTtlGiven && o.revocationTtlMs < needed) {
      throw new TypeError(
        `"revocationTtlMs" option (${o.revocationTtlMs} ms) is shorter than the issuer's tokens may live ` +
          `(${needed} ms: access-token lifetime ${limits.accessTokenTtlSeconds} s + refresh grace ` +
          `${limits.refreshGraceSeconds} s + tolerance ${limits.clockToleranceSeconds} s, from its ${source}); leave it unset to follow the issuer`,
      )
    }
  }
}
