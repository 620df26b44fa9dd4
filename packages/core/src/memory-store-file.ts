import { createHash } from 'node:crypto'
import { closeSync, existsSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { Clock } from './clock.js'
import type { DeliveryQueue, NewDelivery, QueuedDelivery } from './delivery-queue.js'
import { AuthError, StoreUnavailable } from './errors.js'
import { MemoryDeliveryQueue, type MemoryDeliveryQueueState } from './memory-delivery-queue.js'
import { MemoryStore, type MemoryStoreState } from './memory-store.js'
import type {
  BanUserRequest,
  ConsumeOneTimeTokenRequest,
  CreateSessionRequest,
  CreateSessionResult,
  DenyTokenRequest,
  IssueOneTimeTokenRequest,
  MarkDpopProofUsedRequest,
  RevokeAllSessionsRequest,
  RevokeOneTimeTokensRequest,
  RevokeSessionRequest,
  RotateRefreshTokenRequest,
  RotateRefreshTokenResult,
} from './session-store.js'
import type { WriteSigningKeysRequest, WriteSigningKeysResult } from './signing-key-store.js'

/** The whole state, written atomically (temp file, fsync, rename) on graceful close, at start and every {@link COMPACT_AFTER_RECORDS} changes. */
export const SNAPSHOT_FILE = 'sessions.snapshot.json'
/** Every change since the snapshot, one line each, written (and, but for DPoP proof marks, fsynced) before the call returns. */
export const JOURNAL_FILE = 'sessions.journal'
/** The pid of the process using the directory: two writers would interleave one journal. */
const LOCK_FILE = 'sessions.lock'
const FORMAT_VERSION = 1
/** A long uptime must not grow the journal (and the next start's replay) without bound. */
const COMPACT_AFTER_RECORDS = 10_000

/**
 * The delivery queue's calls that change state, each recorded with its arguments and replayed through the plain
 * {@link MemoryDeliveryQueue} method. Taking an item is not recorded: after a restart the taker is gone, so the
 * item is handed out again (at least once, as a lease expiry does in the Redis queue).
 */
const QUEUE_CHANGES = {
  enqueueDeliveries: (q: MemoryDeliveryQueue, [items, nowMs]: [readonly NewDelivery[], number]) => MemoryDeliveryQueue.prototype.enqueue.call(q, items, nowMs),
  ackDelivery: (q: MemoryDeliveryQueue, [item]: [QueuedDelivery]) => MemoryDeliveryQueue.prototype.ack.call(q, item),
  retryDelivery: (q: MemoryDeliveryQueue, [item, options]: Parameters<MemoryDeliveryQueue['retry']>) => MemoryDeliveryQueue.prototype.retry.call(q, item, options),
  deadLetterDelivery: (q: MemoryDeliveryQueue, [item, options]: Parameters<MemoryDeliveryQueue['deadLetter']>) => MemoryDeliveryQueue.prototype.deadLetter.call(q, item, options),
} as const
type QueueChange = keyof typeof QUEUE_CHANGES

/** The store calls that change state. Each is recorded with its request and replayed the same way at start. */
const CHANGES = [
  'createSession',
  'rotateRefreshToken',
  'revokeSession',
  'revokeAllSessions',
  'denyToken',
  'banUser',
  'unbanUser',
  'issueOneTimeToken',
  'consumeOneTimeToken',
  'revokeOneTimeTokens',
  'markDpopProofUsed',
  'writeSigningKeys',
  ...(Object.keys(QUEUE_CHANGES) as QueueChange[]),
] as const
type Change = (typeof CHANGES)[number]

/** A snapshot or journal that cannot be read. The store refuses to start rather than forget a revocation. */
export class MemoryStoreFileError extends Error {
  override name = 'MemoryStoreFileError'
}

/** What opening found, for the server's start-up log. */
export interface MemoryStoreRecovery {
  /** Sessions in the snapshot read at start (0 without one). */
  snapshotSessions: number
  /** Journal records replayed on top of it: more than 0 after a crash. */
  replayedRecords: number
  /** A last journal line cut short by a crash was dropped: its call never returned, so nobody relied on it. */
  droppedTornRecord: boolean
}

// Hashes are Buffers: written as {"$b": base64} so they read back as Buffers.
function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key]
  return raw instanceof Uint8Array ? { $b: Buffer.from(raw).toString('base64') } : value
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && typeof (value as { $b?: unknown }).$b === 'string' && Object.keys(value).length === 1) {
    return Buffer.from((value as { $b: string }).$b, 'base64')
  }
  return value
}

/** Whether a process with this id runs (EPERM: it does, as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Claims the directory for this process; a lock left by a process that died (kill -9, crash) is taken over. */
function claim(dir: string): void {
  const path = join(dir, LOCK_FILE)
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx', mode: 0o600 })
    return
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  const holder = Number(readFileSync(path, 'utf8'))
  if (Number.isSafeInteger(holder) && holder !== process.pid && alive(holder)) {
    throw new MemoryStoreFileError(`${dir} is in use by process ${holder}: one embedded server per data dir (give each its own TESSERA_DATA_DIR, or use Redis to share sessions)`)
  }
  writeFileSync(path, String(process.pid), { mode: 0o600 })
}

/** First 8 hex digits of SHA-256: tells a damaged line from a good one. */
function checksum(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8)
}

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text)
  let done = 0
  while (done < bytes.length) done += writeSync(fd, bytes, done)
}

/** temp file (0600) + fsync + rename + fsync of the directory: a reader sees the old file or the new one, never half. */
function writeFileAtomic(dir: string, name: string, text: string): void {
  const temp = join(dir, `${name}.tmp`)
  const fd = openSync(temp, 'w', 0o600)
  try {
    writeAll(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(temp, join(dir, name))
  syncDirectory(dir)
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * A {@link MemoryStore} kept in a directory, so that restarting the embedded
 * server signs nobody out and no revocation is forgotten, even after `kill -9`.
 *
 * Each change is appended to a journal before the call returns (fsynced, but
 * for DPoP proof marks, which only guard replays for seconds); at start the
 * snapshot is read and the journal replayed on top of it. Replay is exact
 * because store calls take their time (`nowMs`) and every random value in
 * their request. A journal line cut short by a crash is dropped (its call
 * never returned); any other damage stops the start with a
 * {@link MemoryStoreFileError} naming the file and line: failing closed, since
 * skipping a record could bring a revoked session back.
 *
 * Only hashes of refresh and one-time secrets are written, with session
 * metadata (device, IP) and ids; files are owner-only (0600).
 *
 * The store also keeps a {@link deliveryQueue} (the embedded server's webhook
 * queue) in the same snapshot and journal, so queued and retrying deliveries
 * survive a restart or a crash as sessions do.
 *
 * @example
 * ```ts
 * const store = await PersistentMemoryStore.open('./.tessera/sessions')
 * const auth = await createTessera({ store })
 * // ... on shutdown: writes the snapshot and empties the journal
 * await store.close()
 * ```
 */
export class PersistentMemoryStore extends MemoryStore {
  readonly #dir: string
  #fd: number | null = null
  /** Sequence number of the last record written; the snapshot names the last one it includes. */
  #seq = 0
  #sinceSnapshot = 0
  /** Set when a write failed: from then on every change fails closed (a half-written line must not be followed by more). */
  #broken: Error | null = null
  #recovery: MemoryStoreRecovery = { snapshotSessions: 0, replayedRecords: 0, droppedTornRecord: false }
  readonly #queue: JournaledDeliveryQueue

  private constructor(dir: string, options: { clock?: Clock; logClock?: Clock; sweepIntervalMs?: number }) {
    super(options)
    this.#dir = dir
    this.#queue = new JournaledDeliveryQueue((op, args, apply) => this.#change(op, { args }, apply))
  }

  /**
   * A {@link DeliveryQueue} kept in this store's files: every enqueue, acknowledgement, retry and dead letter is
   * journaled (fsynced) before the call returns. One per store.
   */
  get deliveryQueue(): DeliveryQueue {
    return this.#queue
  }

  /** Reads the directory's snapshot and journal (creating the directory, 0700), then starts a fresh journal. */
  static async open(dir: string, options: { clock?: Clock; logClock?: Clock; sweepIntervalMs?: number } = {}): Promise<PersistentMemoryStore> {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    claim(dir)
    const store = new PersistentMemoryStore(dir, options)
    try {
      await store.#load()
      store.#snapshot()
    } catch (err) {
      await MemoryStore.prototype.close.call(store)
      rmSync(join(dir, LOCK_FILE), { force: true })
      throw err
    }
    return store
  }

  /** What the last open found: snapshot size, records replayed, a torn record dropped. */
  get recovery(): MemoryStoreRecovery {
    return { ...this.#recovery }
  }

  async #load(): Promise<void> {
    const snapshotPath = join(this.#dir, SNAPSHOT_FILE)
    const journalPath = join(this.#dir, JOURNAL_FILE)
    const aside = `move ${snapshotPath} and ${journalPath} aside to start with no sessions (every user signs in again)`
    let throughSeq = 0
    if (existsSync(snapshotPath)) {
      let snapshot: { version?: unknown; throughSeq?: unknown; state?: MemoryStoreState; deliveries?: MemoryDeliveryQueueState }
      try {
        snapshot = JSON.parse(readFileSync(snapshotPath, 'utf8'), reviver) as typeof snapshot
      } catch (err) {
        throw new MemoryStoreFileError(`${snapshotPath} is not readable JSON (${(err as Error).message}); ${aside}`, { cause: err })
      }
      if (snapshot.version !== FORMAT_VERSION || typeof snapshot.throughSeq !== 'number' || !Array.isArray(snapshot.state?.users) || !Array.isArray(snapshot.state.log)) {
        throw new MemoryStoreFileError(`${snapshotPath} is not a version ${FORMAT_VERSION} session snapshot; ${aside}`)
      }
      this.importState(snapshot.state)
      // Absent from snapshots written before the queue was kept here.
      if (snapshot.deliveries) this.#queue.importState(snapshot.deliveries)
      throughSeq = this.#seq = snapshot.throughSeq
      this.#recovery.snapshotSessions = this.size().sessions
    }
    if (!existsSync(journalPath)) return
    const lines = readFileSync(journalPath, 'utf8').split('\n')
    // The text after the last newline is a record a crash cut short (or nothing).
    this.#recovery.droppedTornRecord = lines.pop() !== ''
    for (const [index, line] of lines.entries()) {
      const where = `${journalPath} line ${index + 1}`
      const tab = line.indexOf('\t')
      const body = line.slice(tab + 1)
      if (tab !== 8 || checksum(body) !== line.slice(0, 8)) throw new MemoryStoreFileError(`${where} is damaged (checksum mismatch); ${aside}`)
      const record = JSON.parse(body, reviver) as { seq: number; op: Change; r: object }
      if (!Number.isSafeInteger(record.seq) || !CHANGES.includes(record.op) || typeof record.r !== 'object' || record.r === null) {
        throw new MemoryStoreFileError(`${where} is not a session journal record; ${aside}`)
      }
      // Written before the last snapshot (a crash between its rename and the journal's truncation): already in it.
      if (record.seq <= throughSeq) continue
      if (record.seq !== this.#seq + 1) throw new MemoryStoreFileError(`${where} has sequence ${record.seq} after ${this.#seq}: a record is missing; ${aside}`)
      this.#seq = record.seq
      // The plain MemoryStore (or MemoryDeliveryQueue) method: applying a record must not record it again.
      const apply = record.op in QUEUE_CHANGES
        ? QUEUE_CHANGES[record.op as QueueChange].bind(null, this.#queue, (record.r as { args: never }).args)
        : (MemoryStore.prototype as unknown as Record<Change, (this: MemoryStore, r: object) => Promise<unknown>>)[record.op].bind(this, record.r)
      // The first run answered this call too; an AuthError then is the same outcome now (reuse detected, limit reached...).
      await apply().catch((err: unknown) => {
        if (!(err instanceof AuthError)) throw new MemoryStoreFileError(`${where} does not replay (${(err as Error).message}); ${aside}`, { cause: err })
      })
      this.#recovery.replayedRecords += 1
    }
  }

  /** Writes the whole state atomically and starts an empty journal after it. */
  #snapshot(): void {
    writeFileAtomic(this.#dir, SNAPSHOT_FILE, JSON.stringify({ version: FORMAT_VERSION, throughSeq: this.#seq, state: this.exportState(), deliveries: this.#queue.exportState() }, replacer))
    // The snapshot names the last record it holds, so a crash before this truncation replays nothing twice.
    if (this.#fd !== null) closeSync(this.#fd)
    this.#fd = openSync(join(this.#dir, JOURNAL_FILE), 'w', 0o600)
    syncDirectory(this.#dir)
    this.#sinceSnapshot = 0
  }

  /** Appends one change before it is applied (write-ahead), so a crash after the call returns cannot lose it. */
  #record(op: Change, r: object, durable = true): void {
    if (this.#broken) throw new StoreUnavailable(`the session journal failed earlier (${this.#broken.message}); restart the server`, { cause: this.#broken })
    if (this.#fd === null) throw new StoreUnavailable('the session store is closed')
    const body = JSON.stringify({ seq: this.#seq + 1, op, r }, replacer)
    try {
      writeAll(this.#fd, `${checksum(body)}\t${body}\n`)
      if (durable) fdatasyncSync(this.#fd)
    } catch (err) {
      this.#broken = err as Error
      throw new StoreUnavailable(`could not write the session journal in ${this.#dir}: ${(err as Error).message}`, { cause: err })
    }
    this.#seq += 1
    this.#sinceSnapshot += 1
  }

  /** Records, applies (synchronously: MemoryStore calls never wait), and compacts now and then. */
  #change<T>(op: Change, r: object, apply: () => Promise<T>, durable = true): Promise<T> {
    this.#record(op, r, durable)
    const result = apply()
    if (this.#sinceSnapshot >= COMPACT_AFTER_RECORDS) {
      try {
        this.#snapshot()
      } catch (err) {
        // The journal still holds everything; compaction is retried after the next change.
        this.#sinceSnapshot = COMPACT_AFTER_RECORDS - 1
        void err
      }
    }
    return result
  }

  override createSession(r: CreateSessionRequest): Promise<CreateSessionResult> {
    return this.#guard(() => this.#change('createSession', r, () => super.createSession(r)))
  }

  override rotateRefreshToken(r: RotateRefreshTokenRequest): Promise<RotateRefreshTokenResult> {
    return this.#guard(() => this.#change('rotateRefreshToken', r, () => super.rotateRefreshToken(r)))
  }

  override revokeSession(r: RevokeSessionRequest): Promise<boolean> {
    return this.#guard(() => this.#change('revokeSession', r, () => super.revokeSession(r)))
  }

  override revokeAllSessions(r: RevokeAllSessionsRequest): Promise<number> {
    return this.#guard(() => this.#change('revokeAllSessions', r, () => super.revokeAllSessions(r)))
  }

  override denyToken(r: DenyTokenRequest): Promise<void> {
    return this.#guard(() => this.#change('denyToken', r, () => super.denyToken(r)))
  }

  override banUser(r: BanUserRequest): Promise<number> {
    return this.#guard(() => this.#change('banUser', r, () => super.banUser(r)))
  }

  override unbanUser(r: { userId: string; nowMs: number }): Promise<boolean> {
    return this.#guard(() => this.#change('unbanUser', r, () => super.unbanUser(r)))
  }

  override issueOneTimeToken(r: IssueOneTimeTokenRequest): Promise<void> {
    return this.#guard(() => this.#change('issueOneTimeToken', r, () => super.issueOneTimeToken(r)))
  }

  override consumeOneTimeToken(r: ConsumeOneTimeTokenRequest): Promise<string> {
    return this.#guard(() => this.#change('consumeOneTimeToken', r, () => super.consumeOneTimeToken(r)))
  }

  override revokeOneTimeTokens(r: RevokeOneTimeTokensRequest): Promise<number> {
    return this.#guard(() => this.#change('revokeOneTimeTokens', r, () => super.revokeOneTimeTokens(r)))
  }

  override markDpopProofUsed(r: MarkDpopProofUsedRequest): Promise<boolean> {
    // A lost mark after a power cut reopens a replay window of seconds; not worth an fsync per DPoP request.
    return this.#guard(() => this.#change('markDpopProofUsed', r, () => super.markDpopProofUsed(r), false))
  }

  override writeSigningKeys(r: WriteSigningKeysRequest): Promise<WriteSigningKeysResult> {
    return this.#guard(() => this.#change('writeSigningKeys', r, () => super.writeSigningKeys(r)))
  }

  /** A synchronous throw (journal failure) becomes a rejected promise, as from any store. */
  async #guard<T>(run: () => Promise<T>): Promise<T> {
    return run()
  }

  /** Writes the snapshot (a graceful shutdown leaves an empty journal) and closes the journal. Idempotent. */
  override async close(): Promise<void> {
    await super.close()
    if (this.#fd === null) return
    try {
      if (!this.#broken) this.#snapshot()
    } finally {
      if (this.#fd !== null) closeSync(this.#fd)
      this.#fd = null
      rmSync(join(this.#dir, LOCK_FILE), { force: true })
    }
  }
}

/** The {@link PersistentMemoryStore}'s delivery queue: each change goes through the store's journal, then applies. */
class JournaledDeliveryQueue extends MemoryDeliveryQueue {
  readonly #change: <T>(op: QueueChange, args: unknown[], apply: () => Promise<T>) => Promise<T>

  constructor(change: <T>(op: QueueChange, args: unknown[], apply: () => Promise<T>) => Promise<T>) {
    super()
    this.#change = change
  }

  override async enqueue(items: readonly NewDelivery[], nowMs: number): Promise<void> {
    return this.#change('enqueueDeliveries', [items, nowMs], () => super.enqueue(items, nowMs))
  }

  override async ack(item: QueuedDelivery): Promise<void> {
    return this.#change('ackDelivery', [item], () => super.ack(item))
  }

  override async retry(item: QueuedDelivery, options: { atMs: number; nowMs: number }): Promise<void> {
    return this.#change('retryDelivery', [item, options], () => super.retry(item, options))
  }

  override async deadLetter(item: QueuedDelivery, options: { nowMs: number; error: string }): Promise<void> {
    return this.#change('deadLetterDelivery', [item, options], () => super.deadLetter(item, options))
  }
}
