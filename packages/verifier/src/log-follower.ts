import type { IssuerHeartbeat, RevocationLogEntry, RevocationLogRead, SessionStore } from '@tessera/core'
import { ATTR, comparePositions, failSpan, inSpan } from '@tessera/core/internal'
import type { RevocationSet } from './revocation-set.js'
import { ROOT_SPAN, SPAN, tracer, VERIFIER_ATTR } from './telemetry.js'

/** Options of {@link RevocationLogFollower}. */
export interface LogFollowerOptions {
  store: SessionStore
  set: RevocationSet
  /** How long one blocking read waits for new entries. */
  blockMs: number
  /** Beyond this long without a successful read, the set is no longer trusted. */
  maxStalenessMs: number
  /** Entries per read. */
  batchSize: number
  /** Wait between attempts while the store fails. */
  retryMs: number
  /**
   * After a gap (missed, trimmed entries), how long the set is not trusted at
   * least: the longest a token may live. The set's horizon is used when longer.
   */
  revocationTtlMs: number
  /** `iss` of the tokens this verifier accepts: the issuer whose heartbeats must be in the log. */
  issuer: string
  /** Longest silence of that issuer's heartbeats before the log is not trusted to be its log. */
  issuerSilenceMs: number
  /**
   * Longest time between two gap checks (XINFO on Redis) while reading
   * continuously; a read after start or after a failure always checks.
   */
  gapCheckIntervalMs: number
  nowMs: () => number
  /** Called after entries were applied to the set (they are in force when it runs). */
  onApplied?: (entries: RevocationLogEntry[]) => void
  /** Called for each heartbeat of the verifier's own issuer. */
  onHeartbeat?: (heartbeat: IssuerHeartbeat) => void
}

/** Where the follower stands; all times epoch ms (null: never). */
export interface LogFollowerStatus {
  state: 'starting' | 'live' | 'disconnected' | 'closed'
  position: string | null
  lastContactMs: number | null
  /** `atMs` of the newest applied entry. */
  lastEventAtMs: number | null
  /** When the newest entry was applied here. */
  lastAppliedMs: number | null
  /** Local apply time minus the entry's `atMs`, for the newest entry. */
  lagMs: number | null
  /** Untrusted until then because entries were missed. */
  gapUntilMs: number
  gaps: number
  readErrors: number
  /** When the newest heartbeat of the verifier's issuer was received here (for one loaded at start: its own time, if earlier). */
  issuerSeenMs: number | null
  /** The newest heartbeat of the verifier's issuer. */
  issuerHeartbeat: IssuerHeartbeat | null
  /** Issuers whose heartbeats are in the log, when they are not the verifier's: a hint when the log is the wrong one. */
  otherIssuers: string[]
  /** Reads that also checked for a gap (XINFO on Redis). */
  gapChecks: number
}

/**
 * Keeps a {@link RevocationSet} current by following the store's revocation
 * log with blocking reads. It loads the whole live log before it reports
 * ready, resumes from its last position after a failure, and says when its set
 * must not be trusted: too long without contact, or entries missed because the
 * log was trimmed past its position.
 *
 * @example
 * ```ts
 * const follower = new RevocationLogFollower({ store, set, blockMs: 1000, maxStalenessMs: 2500, batchSize: 1000,
 *   retryMs: 100, revocationTtlMs: 900_000, issuer: 'https://auth.example', issuerSilenceMs: 20_000,
 *   gapCheckIntervalMs: 1000, nowMs: Date.now })
 * await follower.start()
 * if (!follower.trusted(Date.now())) fallBackToStrict()
 * ```
 */
export class RevocationLogFollower {
  readonly #o: LogFollowerOptions
  readonly #status: LogFollowerStatus = {
    state: 'starting',
    position: null,
    lastContactMs: null,
    lastEventAtMs: null,
    lastAppliedMs: null,
    lagMs: null,
    gapUntilMs: 0,
    gaps: 0,
    readErrors: 0,
    issuerSeenMs: null,
    issuerHeartbeat: null,
    otherIssuers: [],
    gapChecks: 0,
  }
  /** A read must check for a gap: at start, after a failure, and when the last check is older than the interval. */
  #checkGapNext = true
  #lastGapCheckMs = 0
  #loop: Promise<void> | null = null
  #wake: (() => void) | null = null
  /** Reads failed in a row: only the first of a streak and the recovery make spans, not every retry of an outage. */
  #failedReads = 0

  constructor(options: LogFollowerOptions) {
    this.#o = options
  }

  /** Loads the live part of the log, then follows it in the background. Rejects when the store cannot be read. */
  async start(): Promise<void> {
    await this.#loadAll('start')
    this.#status.state = 'live'
    this.#loop = this.#run()
  }

  /**
   * True while the set can stand in for a strict check: the last successful
   * read is at most `maxStalenessMs` old (a short blip does not count) and no
   * entries were missed.
   */
  trusted(nowMs: number): boolean {
    const s = this.#status
    return (s.state === 'live' || s.state === 'disconnected') && s.lastContactMs !== null && nowMs - s.lastContactMs <= this.#o.maxStalenessMs && nowMs >= s.gapUntilMs
  }

  /** True while a heartbeat of the verifier's issuer was received within `issuerSilenceMs`. */
  issuerLive(nowMs: number): boolean {
    const seen = this.#status.issuerSeenMs
    return seen !== null && nowMs - seen <= this.#o.issuerSilenceMs
  }

  status(): Readonly<LogFollowerStatus> {
    return this.#status
  }

  /** Stops following. A blocking read in flight ends when the store closes or its block time passes. */
  close(): void {
    this.#status.state = 'closed'
    this.#wake?.()
  }

  /** Settles when the background loop has ended (after {@link close}). */
  async stopped(): Promise<void> {
    await this.#loop
  }

  /** Reads the whole live log from its start; used at start and after a gap. */
  #loadAll(reason: 'start' | 'gap'): Promise<void> {
    return inSpan(tracer, SPAN.logLoad, reason === 'gap' ? ROOT_SPAN : undefined, async (span) => {
      if (span.isRecording()) span.setAttribute(VERIFIER_ATTR.loadReason, reason)
      const entries = await this.#readAll()
      if (span.isRecording()) span.setAttributes({ [VERIFIER_ATTR.entries]: entries, [ATTR.outcome]: 'loaded' })
    })
  }

  /** Returns how many revocations it applied. */
  async #readAll(): Promise<number> {
    const { store, batchSize } = this.#o
    const info = await store.revocationLogInfo()
    let position: string | null = null
    let applied = 0
    for (;;) {
      const read = await store.readRevocations(position, { count: batchSize })
      this.#applyRead(read, true)
      applied += read.entries.length
      if (read.lastPosition !== null) position = read.lastPosition
      if (read.count < batchSize) break
    }
    // An empty log still has a head; starting there means a later trim is seen as a gap, not silently skipped.
    if (position === null) position = info.lastPosition
    if (position !== null && (this.#status.position === null || comparePositions(position, this.#status.position) > 0)) this.#status.position = position
    this.#status.lastContactMs = this.#o.nowMs()
    return applied
  }

  /**
   * A span for a read worth seeing, made after the fact (started at `startedAtMs`): one that
   * applied revocations, found a gap, was the first failure of a streak, or the first success after one.
   */
  #traceRead(startedAtMs: number, read: RevocationLogRead | null, err: unknown): void {
    const failed = read === null
    const interesting = failed ? this.#failedReads === 1 : read.entries.length > 0 || read.gap || this.#failedReads > 0
    if (!interesting) return
    const span = tracer.startSpan(SPAN.logRead, { root: true, startTime: startedAtMs })
    if (span.isRecording()) {
      if (failed) failSpan(span, err)
      else {
        span.setAttributes({ [VERIFIER_ATTR.entries]: read.entries.length, [VERIFIER_ATTR.gap]: read.gap, [ATTR.outcome]: 'read' })
        if (this.#failedReads > 0) span.setAttribute(VERIFIER_ATTR.failedReads, this.#failedReads)
        if (read.entries.length > 0 && this.#status.lagMs !== null) span.setAttribute(VERIFIER_ATTR.lagMs, this.#status.lagMs)
      }
    }
    span.end()
  }

  #applyRead(read: RevocationLogRead, loading: boolean): void {
    const now = this.#o.nowMs()
    for (const heartbeat of read.heartbeats) this.#heard(heartbeat, now, loading)
    this.#applyAll(read.entries, now)
  }

  #heard(heartbeat: IssuerHeartbeat, now: number, loading: boolean): void {
    const s = this.#status
    if (heartbeat.issuer !== this.#o.issuer) {
      if (!s.otherIssuers.includes(heartbeat.issuer) && s.otherIssuers.length < 8) s.otherIssuers.push(heartbeat.issuer)
      return
    }
    // A heartbeat read while following arrived just now; one loaded from the log is as old as it says, or older.
    const seenMs = loading ? Math.min(now, heartbeat.atMs) : now
    if (s.issuerSeenMs === null || seenMs >= s.issuerSeenMs) {
      s.issuerSeenMs = seenMs
      s.issuerHeartbeat = heartbeat
    }
    try {
      this.#o.onHeartbeat?.(heartbeat)
    } catch {
      // As for onApplied: a listener's fault must not stall the follower.
    }
  }

  #applyAll(entries: RevocationLogEntry[], now: number): void {
    if (entries.length === 0) return
    for (const entry of entries) this.#o.set.apply(entry, now)
    const newest = entries.at(-1)!
    this.#status.lastEventAtMs = newest.atMs
    this.#status.lastAppliedMs = now
    this.#status.lagMs = now - newest.atMs
    try {
      this.#o.onApplied?.(entries)
    } catch {
      // A listener's fault must not stall the follower or make it re-read entries it already applied.
    }
  }

  async #run(): Promise<void> {
    const { store, batchSize, blockMs } = this.#o
    const s = this.#status
    let startedAtMs = Date.now()
    while (s.state !== 'closed') {
      try {
        // Trimming only reaches entries older than the log's retention, so a follower that keeps reading cannot
        // lose entries to it between two reads; a (re)connect can (a restart, a failover, a manual XTRIM), and the
        // periodic check bounds what nothing else would notice. Every other read is a single XREAD.
        const checkGap = this.#checkGapNext || this.#o.nowMs() - this.#lastGapCheckMs >= this.#o.gapCheckIntervalMs
        startedAtMs = Date.now()
        const read = await store.readRevocations(s.position, { count: batchSize, blockMs, checkGap })
        if ((s.state as LogFollowerStatus['state']) === 'closed') return
        if (checkGap) {
          s.gapChecks++
          this.#checkGapNext = false
          this.#lastGapCheckMs = this.#o.nowMs()
        }
        if (read.gap) {
          s.gaps++
          s.gapUntilMs = this.#o.nowMs() + Math.max(this.#o.revocationTtlMs, this.#o.set.horizonMs)
          this.#applyRead(read, false)
          this.#traceRead(startedAtMs, read, null)
          this.#failedReads = 0
          // Entries after our position are gone for good: start over from what the log still holds.
          await this.#loadAll('gap')
        } else {
          this.#applyRead(read, false)
          this.#traceRead(startedAtMs, read, null)
          this.#failedReads = 0
          if (read.lastPosition !== null) s.position = read.lastPosition
          // Only a read that drained the backlog proves the set is current.
          if (read.count < batchSize) s.lastContactMs = this.#o.nowMs()
        }
        s.state = 'live'
      } catch (err) {
        if ((s.state as LogFollowerStatus['state']) === 'closed') return
        this.#failedReads++
        this.#traceRead(startedAtMs, null, err)
        s.readErrors++
        s.state = 'disconnected'
        this.#checkGapNext = true
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#o.retryMs)
          this.#wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        this.#wake = null
      }
    }
  }
}
