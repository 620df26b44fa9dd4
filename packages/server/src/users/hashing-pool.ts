import { spawn, type ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loaderFlags, schedIdleLauncher } from './hashing-launch.js'

/** argon2 parameters of a new hash (the variant and its costs). */
export interface HashParameters {
  type: 0 | 1 | 2
  memoryCost: number
  timeCost: number
  parallelism: number
}

/** A request to a hashing child; the pool and the child share this shape. */
export type HashRequest =
  | { id: number; op: 'hash'; password: string; options: HashParameters }
  | { id: number; op: 'verify'; hash: string; password: string }

/** A child's answer to one {@link HashRequest}. */
export type HashResponse = { id: number; ok: true; value: string | boolean } | { id: number; ok: false; error: string }

/** Password work cannot be done now (pool closed, a child died); says when to retry. */
export class HashingUnavailable extends Error {
  readonly retryAfterSeconds: number
  constructor(message: string, retryAfterSeconds = 1) {
    super(message)
    this.name = 'HashingUnavailable'
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/**
 * The pool's queue is full: password work is shed before it makes every
 * other request wait. Carries how long the caller should wait before retrying.
 */
export class HashingOverloaded extends HashingUnavailable {
  constructor(retryAfterSeconds: number) {
    super('too many password checks in progress; try again shortly', retryAfterSeconds)
    this.name = 'HashingOverloaded'
  }
}

export interface HashingPoolOptions {
  /** Child processes; default: the CPUs this process may run on (its affinity). */
  size?: number
  /** Requests that may wait for a child; one more is refused with {@link HashingOverloaded}. Default 256. */
  maxQueued?: number
  /**
   * Milliseconds a request may wait for a child; then it is refused with {@link HashingOverloaded}
   * (503 with Retry-After), so a starved or swamped pool answers instead of leaving sign-ins hanging. Default 10000.
   */
  maxWaitMs?: number
  /**
   * How the children yield the CPU. `'idle'` (default): Linux's SCHED_IDLE, started through util-linux
   * `chrt` (any waking request preempts a hash at once, and a hash takes only CPU nothing else wants),
   * with a rescue at `nice` after `rescueAfterMs`; where `chrt` is missing or refused, the same as `'nice'`.
   * `'nice'`: the nice value alone (the scheduler favours requests about ten to one at nice 10, but a
   * waking request may wait for the rest of a hash's time slice).
   */
  priority?: 'idle' | 'nice'
  /** Nice value (0-19) of the children at `'nice'` and of the rescue children; default 10: 19 starved sign-ins (a hash took over a second beside other busy processes). */
  nice?: number
  /**
   * With `'idle'`: a hash without an answer after this many ms is handed to a second child at `nice` as
   * well, and the first answer counts, so other busy processes cannot starve sign-ins (at SCHED_IDLE a
   * hash beside one busy process gets about 0.3% of a core). Default 500.
   */
  rescueAfterMs?: number
}

/** Nice value of the hashing processes unless configured. */
export const DEFAULT_HASHING_NICE = 10

/** How long a request may wait for a hashing process before it is refused, unless configured. */
export const DEFAULT_MAX_WAIT_MS = 10_000

/** How long a hash may go unanswered at SCHED_IDLE before a niced child runs it too, unless configured. */
export const DEFAULT_RESCUE_AFTER_MS = 500

/** `low`: the children that hash (SCHED_IDLE, or niced); `rescue`: niced children that take the hashes `low` starves on. */
type Lane = 'low' | 'rescue'

interface Task {
  request: HashRequest
  resolve(value: string | boolean): void
  reject(err: Error): void
  startedMs?: number
  /** While queued: refuses the request once it has waited `maxWaitMs`. */
  expiry?: NodeJS.Timeout
  /** Answered (or failed): a second answer, from the other lane, is dropped. */
  settled: boolean
  /** Children running it: one, or two once rescued. */
  runners: number
  rescued: boolean
}

interface Worker {
  child: ChildProcess
  lane: Lane
  task: Task | null
  rescueTimer: NodeJS.Timeout | null
  /** Running a task past `rescueAfterMs`: the scheduler is giving the low lane no CPU. */
  starved: boolean
}


/**
 * Runs argon2id in child processes at the lowest CPU priority, one hash per
 * child at a time, with a bounded queue. Why processes: argon2 on the libuv
 * pool runs at the event loop's priority, so a login storm on one core takes
 * the core from every signed-in user's request; a low-priority process yields it.
 * On Linux the children run under SCHED_IDLE, so a request that wakes the
 * server preempts a hash at once; a hash starved by other busy processes is
 * rescued by a child at nice 10 (see {@link HashingPoolOptions}).
 *
 * @example
 * ```ts
 * const pool = new HashingPool({ size: 2 })
 * const hash = await pool.hash('correct horse battery', ARGON2_OPTIONS)
 * await pool.verify(hash, 'correct horse battery') // true
 * await pool.close()
 * ```
 */
export class HashingPool {
  readonly size: number
  readonly maxQueued: number
  readonly maxWaitMs: number
  private readonly nice: number
  private readonly priority: 'idle' | 'nice'
  private readonly rescueAfterMs: number
  private readonly workers: Worker[] = []
  private readonly queue: Task[] = []
  private nextId = 1
  private averageMs = 25
  private closed = false
  private keepAlive: NodeJS.Timeout | null = null

  constructor(options: HashingPoolOptions = {}) {
    this.size = options.size ?? Math.max(1, availableParallelism())
    this.maxQueued = options.maxQueued ?? 256
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS
    this.nice = options.nice ?? DEFAULT_HASHING_NICE
    this.priority = options.priority ?? 'idle'
    this.rescueAfterMs = options.rescueAfterMs ?? DEFAULT_RESCUE_AFTER_MS
    if (!Number.isInteger(this.size) || this.size < 1) throw new TypeError('"size" option must be a positive integer')
    if (!Number.isInteger(this.maxQueued) || this.maxQueued < 0) throw new TypeError('"maxQueued" option must be a non-negative integer')
    if (!Number.isInteger(this.maxWaitMs) || this.maxWaitMs < 1) throw new TypeError('"maxWaitMs" option must be a positive integer')
    if (!Number.isInteger(this.nice) || this.nice < 0 || this.nice > 19) throw new TypeError('"nice" option must be an integer from 0 to 19')
    if (this.priority !== 'idle' && this.priority !== 'nice') throw new TypeError('"priority" option must be "idle" or "nice"')
    if (!Number.isInteger(this.rescueAfterMs) || this.rescueAfterMs < 1) throw new TypeError('"rescueAfterMs" option must be a positive integer')
  }

  /** Hashes a password (PHC string). Rejects with {@link HashingOverloaded} when the queue is full. */
  hash(password: string, options: HashParameters): Promise<string> {
    return this.run({ id: this.nextId++, op: 'hash', password, options }) as Promise<string>
  }

  /** Checks a password against a PHC string; rejects when the hash is malformed or the queue is full. */
  verify(hash: string, password: string): Promise<boolean> {
    return this.run({ id: this.nextId++, op: 'verify', hash, password }) as Promise<boolean>
  }

  /** Requests waiting for a child, not counting those being hashed. */
  get queued(): number {
    return this.queue.length
  }

  /** Process ids of the running children (operators' diagnostics: their priority, their memory). */
  get processIds(): number[] {
    return this.workers.flatMap((worker) => (worker.child.pid === undefined ? [] : [worker.child.pid]))
  }

  /** Starts the children now instead of at the first request (start-up work off the first sign-in). */
  warm(): void {
    while (this.lane('low').length < this.size) this.workers.push(this.spawn('low'))
  }

  /** Ends every child; queued and running requests are rejected. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const gone = new HashingUnavailable('the hashing pool is closed')
    for (const task of this.queue.splice(0)) {
      clearTimeout(task.expiry)
      this.settle(task, gone)
    }
    if (this.keepAlive) clearInterval(this.keepAlive)
    this.keepAlive = null
    await Promise.all(this.workers.splice(0).map(async (worker) => {
      if (worker.task) this.settle(worker.task, gone)
      this.release(worker)
      if (worker.child.exitCode !== null || worker.child.signalCode !== null) return
      const exited = new Promise((resolve) => worker.child.once('exit', resolve))
      // An unref'd child would let the process end before its exit is seen, leaving close() pending.
      worker.child.ref()
      worker.child.disconnect()
      await exited
    }))
  }

  private run(request: HashRequest): Promise<string | boolean> {
    if (this.closed) return Promise.reject(new HashingUnavailable('the hashing pool is closed'))
    return new Promise((resolve, reject) => {
      const task: Task = { request, resolve, reject, settled: false, runners: 0, rescued: false }
      const free = this.freeWorker('low') ?? (this.starving() ? this.freeWorker('rescue') : null)
      if (free) return this.dispatch(free, task)
      if (this.queue.length >= this.maxQueued) return reject(new HashingOverloaded(this.retryAfterSeconds()))
      task.expiry = setTimeout(() => this.expire(task), this.maxWaitMs)
      task.expiry.unref()
      this.queue.push(task)
    })
  }

  // The wait a new request would face, spread over the children: the Retry-After a client can act on.
  private retryAfterSeconds(): number {
    const waitMs = ((this.queue.length + this.size) * this.averageMs) / this.size
    return Math.max(1, Math.ceil(waitMs / 1000))
  }

  private expire(task: Task): void {
    const index = this.queue.indexOf(task)
    if (index < 0) return
    this.queue.splice(index, 1)
    this.settle(task, new HashingOverloaded(this.retryAfterSeconds()))
    this.releaseIfIdle()
  }

  private takeQueued(): Task | null {
    const task = this.queue.shift()
    if (!task) return null
    clearTimeout(task.expiry)
    return task
  }

  private lane(lane: Lane): Worker[] {
    return this.workers.filter((worker) => worker.lane === lane)
  }

  /** A child of `lane` with nothing to do, started if the lane has fewer than `size`; null when all are busy. */
  private freeWorker(lane: Lane): Worker | null {
    const workers = this.lane(lane)
    const free = workers.find((worker) => worker.task === null)
    if (free) return free
    if (workers.length >= this.size || (lane === 'rescue' && !this.rescues())) return null
    const worker = this.spawn(lane)
    this.workers.push(worker)
    return worker
  }

  /** Whether the low lane runs at SCHED_IDLE, which needs a rescue lane (a niced low lane is its own floor). */
  private rescues(): boolean {
    return this.priority === 'idle' && schedIdleLauncher() !== null
  }

  private starving(): boolean {
    return this.workers.some((worker) => worker.starved)
  }

  private dispatch(worker: Worker, task: Task): void {
    worker.task = task
    task.runners++
    this.holdOpen()
    task.startedMs ??= performance.now()
    worker.child.send(task.request)
    // From dispatch, not from the child's start: a child starting at SCHED_IDLE beside busy processes starves as a hash does.
    if (worker.lane === 'low' && this.rescues()) {
      worker.rescueTimer = setTimeout(() => this.rescue(worker), this.rescueAfterMs)
      worker.rescueTimer.unref()
    }
  }

  /** A low child has run one hash for `rescueAfterMs`: a rescue child runs it too (now, or as soon as one is free). */
  private rescue(worker: Worker): void {
    worker.rescueTimer = null
    worker.starved = true
    const task = worker.task
    if (!task || task.settled || task.rescued) return
    const rescuer = this.freeWorker('rescue')
    if (!rescuer) return
    task.rescued = true
    this.dispatch(rescuer, task)
  }

  /** The next task for a child that just became free. */
  private nextFor(worker: Worker): Task | null {
    if (worker.lane === 'rescue') {
      const stuck = this.workers.find((w) => w.starved && w.task && !w.task.settled && !w.task.rescued)?.task
      if (stuck) {
        stuck.rescued = true
        return stuck
      }
      // While the low lane starves, rescue children take new requests too; otherwise they wait.
      if (!this.starving()) return null
    }
    return this.takeQueued()
  }

  private feed(worker: Worker): void {
    const next = this.nextFor(worker)
    if (next) this.dispatch(worker, next)
    else this.releaseIfIdle()
  }

  private release(worker: Worker): void {
    if (worker.rescueTimer) clearTimeout(worker.rescueTimer)
    worker.rescueTimer = null
    worker.starved = false
    if (worker.task) worker.task.runners--
    worker.task = null
  }

  private settle(task: Task, outcome: Error | { value: string | boolean }): void {
    if (task.settled) return
    task.settled = true
    if (outcome instanceof Error) return task.reject(outcome)
    // A moving average of the time a request waits for its answer once dispatched, for Retry-After.
    if (task.startedMs !== undefined) this.averageMs = this.averageMs * 0.9 + (performance.now() - task.startedMs) * 0.1
    task.resolve(outcome.value)
  }

  private spawn(lane: Lane): Worker {
    const own = fileURLToPath(import.meta.url)
    // In a checkout this module is the .ts source run through tsx; once built, the .js beside it.
    const script = fileURLToPath(new URL(`./hashing-worker${extname(own)}`, import.meta.url))
    const argv = [process.execPath, ...loaderFlags(process.execArgv), script]
    const [command, ...args] = lane === 'low' && this.rescues() ? [...schedIdleLauncher()!, ...argv] : argv
    const child = spawn(command!, args, {
      env: { ...process.env, TESSERA_HASHING_NICE: String(this.nice) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const worker: Worker = { child, lane, task: null, rescueTimer: null, starved: false }
    child.unref()
    child.channel?.unref()
    child.on('message', (response: HashResponse) => this.answered(worker, response))
    child.on('exit', () => this.exited(worker))
    // A failed spawn also emits 'exit'; the error itself needs a listener so it is not thrown.
    child.on('error', () => undefined)
    return worker
  }

  private answered(worker: Worker, response: HashResponse): void {
    const task = worker.task
    if (!task || task.request.id !== response.id) return
    this.release(worker)
    this.settle(task, response.ok ? { value: response.value } : new Error(response.error))
    this.feed(worker)
  }

  private exited(worker: Worker): void {
    const index = this.workers.indexOf(worker)
    if (index >= 0) this.workers.splice(index, 1)
    const task = worker.task
    this.release(worker)
    // A rescued task may still be answered by its other child.
    if (task && task.runners === 0) this.settle(task, new HashingUnavailable('a hashing process exited while working'))
    if (this.closed) return this.releaseIfIdle()
    // Hand the queue to a fresh child so waiting requests are not stranded (a rescue child leaves low children behind).
    if (this.queue.length > 0 && worker.lane === 'low') {
      const fresh = this.spawn('low')
      this.workers.push(fresh)
      this.feed(fresh)
    }
    this.releaseIfIdle()
  }

  // Children and their channels never keep this process alive (an idle pool must not block exit);
  // while a request is unanswered, one timer does, so an awaited hash is never cut off by the process ending.
  private holdOpen(): void {
    this.keepAlive ??= setInterval(() => undefined, 1 << 30)
  }

  private releaseIfIdle(): void {
    const unanswered = this.queue.length > 0 || this.workers.some((worker) => worker.task !== null && !worker.task.settled)
    if (this.keepAlive && !unanswered) {
      clearInterval(this.keepAlive)
      this.keepAlive = null
    }
  }
}
