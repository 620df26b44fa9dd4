import { fork, type ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'

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
  /** Nice value the children take (0-19); default 10: the scheduler favours requests about ten to one, yet a busy host does not starve sign-ins (19 did: a hash took over a second beside other busy processes). */
  nice?: number
}

/** Nice value of the hashing processes unless configured. */
export const DEFAULT_HASHING_NICE = 10

interface Task {
  request: HashRequest
  resolve(value: string | boolean): void
  reject(err: Error): void
  startedMs?: number
}

interface Worker {
  child: ChildProcess
  task: Task | null
}

// Of the parent's flags, children take only those that decide how modules load (tsx in a checkout,
// export conditions): a test runner's, profiler's or inspector's flags would make them something else.
const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader', '--conditions', '-C'])

function loaderFlags(execArgv: readonly string[]): string[] {
  const kept: string[] = []
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!
    const name = flag.split('=')[0]!
    if (!LOADER_FLAGS.has(name)) continue
    kept.push(flag)
    if (!flag.includes('=') && i + 1 < execArgv.length) kept.push(execArgv[++i]!)
  }
  return kept
}

/**
 * Runs argon2id in child processes at a low CPU priority (nice 10), one hash per
 * child at a time, with a bounded queue. Why processes: argon2 on the libuv
 * pool runs at the event loop's priority, so a login storm on one core takes
 * the core from every signed-in user's request; a niced process yields it.
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
  private readonly nice: number
  private readonly workers: Worker[] = []
  private readonly queue: Task[] = []
  private nextId = 1
  private averageMs = 25
  private closed = false
  private keepAlive: NodeJS.Timeout | null = null

  constructor(options: HashingPoolOptions = {}) {
    this.size = options.size ?? Math.max(1, availableParallelism())
    this.maxQueued = options.maxQueued ?? 256
    this.nice = options.nice ?? DEFAULT_HASHING_NICE
    if (!Number.isInteger(this.size) || this.size < 1) throw new TypeError('"size" option must be a positive integer')
    if (!Number.isInteger(this.maxQueued) || this.maxQueued < 0) throw new TypeError('"maxQueued" option must be a non-negative integer')
    if (!Number.isInteger(this.nice) || this.nice < 0 || this.nice > 19) throw new TypeError('"nice" option must be an integer from 0 to 19')
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

  /** Process ids of the running children (operators' diagnostics: their nice value, their memory). */
  get processIds(): number[] {
    return this.workers.flatMap((worker) => (worker.child.pid === undefined ? [] : [worker.child.pid]))
  }

  /** Starts the children now instead of at the first request (start-up work off the first sign-in). */
  warm(): void {
    while (this.workers.length < this.size) this.workers.push(this.spawn())
  }

  /** Ends every child; queued and running requests are rejected. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const gone = new HashingUnavailable('the hashing pool is closed')
    for (const task of this.queue.splice(0)) task.reject(gone)
    if (this.keepAlive) clearInterval(this.keepAlive)
    this.keepAlive = null
    await Promise.all(this.workers.splice(0).map(async (worker) => {
      worker.task?.reject(gone)
      worker.task = null
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
      const task: Task = { request, resolve, reject }
      const idle = this.idleWorker()
      if (idle) return this.dispatch(idle, task)
      if (this.queue.length >= this.maxQueued) {
        // The wait a new request would face, spread over the children: the Retry-After a client can act on.
        const waitMs = ((this.queue.length + this.size) * this.averageMs) / this.size
        return reject(new HashingOverloaded(Math.max(1, Math.ceil(waitMs / 1000))))
      }
      this.queue.push(task)
    })
  }

  private idleWorker(): Worker | null {
    const idle = this.workers.find((worker) => worker.task === null)
    if (idle) return idle
    if (this.workers.length < this.size) {
      const worker = this.spawn()
      this.workers.push(worker)
      return worker
    }
    return null
  }

  private dispatch(worker: Worker, task: Task): void {
    worker.task = task
    this.holdOpen()
    task.startedMs = performance.now()
    worker.child.send(task.request)
  }

  private spawn(): Worker {
    const own = fileURLToPath(import.meta.url)
    // In a checkout this module is the .ts source run through tsx; once built, the .js beside it.
    const script = fileURLToPath(new URL(`./hashing-worker${extname(own)}`, import.meta.url))
    const child = fork(script, [], {
      execArgv: loaderFlags(process.execArgv),
      env: { ...process.env, TESSERA_HASHING_NICE: String(this.nice) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const worker: Worker = { child, task: null }
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
    worker.task = null
    // A moving average of the time a request holds a child, for Retry-After.
    if (task.startedMs !== undefined) this.averageMs = this.averageMs * 0.9 + (performance.now() - task.startedMs) * 0.1
    if (response.ok) task.resolve(response.value)
    else task.reject(new Error(response.error))
    const next = this.queue.shift()
    if (next) this.dispatch(worker, next)
    else this.releaseIfIdle()
  }

  private exited(worker: Worker): void {
    const index = this.workers.indexOf(worker)
    if (index >= 0) this.workers.splice(index, 1)
    worker.task?.reject(new HashingUnavailable('a hashing process exited while working'))
    worker.task = null
    if (this.closed) return this.releaseIfIdle()
    // Hand the queue to a fresh child so waiting requests are not stranded.
    const next = this.queue.shift()
    if (next) {
      const fresh = this.spawn()
      this.workers.push(fresh)
      this.dispatch(fresh, next)
    }
    this.releaseIfIdle()
  }

  // Children and their channels never keep this process alive (an idle pool must not block exit);
  // while a request is out, one timer does, so an awaited hash is never cut off by the process ending.
  private holdOpen(): void {
    this.keepAlive ??= setInterval(() => undefined, 1 << 30)
  }

  private releaseIfIdle(): void {
    if (this.keepAlive && this.queue.length === 0 && this.workers.every((worker) => worker.task === null)) {
      clearInterval(this.keepAlive)
      this.keepAlive = null
    }
  }
}
