import { comparePositions, type RevocationLogEntry, type SessionStore } from '@tessera/core'
import type { RevocationSet } from './revocation-set.js'

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
  /** After a gap (missed, trimmed entries), how long the set is not trusted: the longest access-token lifetime. */
  revocationTtlMs: number
  nowMs: () => number
  /** Called after entries were applied to the set (they are in force when it runs). */
  onApplied?: (entries: RevocationLogEntry[]) => void
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
 *   retryMs: 100, revocationTtlMs: 900_000, nowMs: Date.now })
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
  }
  #loop: Promise<void> | null = null
  #wake: (() => void) | null = null

  constructor(options: LogFollowerOptions) {
    this.#o = options
  }

  /** Loads the live part of the log, then follows it in the background. Rejects when the store cannot be read. */
  async start(): Promise<void> {
    await this.#loadAll()
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
  async #loadAll(): Promise<void> {
    const { store, batchSize } = this.#o
    const info = await store.revocationLogInfo()
    let position: string | null = null
    for (;;) {
      const read = await store.readRevocations(position, { count: batchSize })
      this.#applyAll(read.entries)
      if (read.entries.length > 0) position = read.entries.at(-1)!.position
      if (read.entries.length < batchSize) break
    }
    // An empty log still has a head; starting there means a later trim is seen as a gap, not silently skipped.
    if (position === null) position = info.lastPosition
    if (position !== null && (this.#status.position === null || comparePositions(position, this.#status.position) > 0)) this.#status.position = position
    this.#status.lastContactMs = this.#o.nowMs()
  }

  #applyAll(entries: RevocationLogEntry[]): void {
    if (entries.length === 0) return
    for (const entry of entries) this.#o.set.apply(entry)
    const newest = entries.at(-1)!
    const now = this.#o.nowMs()
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
    while (s.state !== 'closed') {
      try {
        const read = await store.readRevocations(s.position, { count: batchSize, blockMs })
        if ((s.state as LogFollowerStatus['state']) === 'closed') return
        if (read.gap) {
          s.gaps++
          s.gapUntilMs = this.#o.nowMs() + this.#o.revocationTtlMs
          this.#applyAll(read.entries)
          // Entries after our position are gone for good: start over from what the log still holds.
          await this.#loadAll()
        } else {
          this.#applyAll(read.entries)
          if (read.entries.length > 0) s.position = read.entries.at(-1)!.position
          // Only a read that drained the backlog proves the set is current.
          if (read.entries.length < batchSize) s.lastContactMs = this.#o.nowMs()
        }
        s.state = 'live'
      } catch {
        if ((s.state as LogFollowerStatus['state']) === 'closed') return
        s.readErrors++
        s.state = 'disconnected'
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
