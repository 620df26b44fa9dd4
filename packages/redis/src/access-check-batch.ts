import { type AccessTokenStatus, StoreUnavailable } from '@tessera/core'
import { SCRIPTS } from './script-descriptors.js'
import type { RedisArg } from './connection.js'
import { argvOf, type ScriptArgs, type ScriptReply } from './scripts.js'

/** One check's ARGV by name: `localId`, `sessionCreatedAtMs`, `nowMs` (the checkAccessToken descriptor). */
export type CheckArgs = ScriptArgs<typeof SCRIPTS.checkAccessToken>

/** What each check script takes: a check's named ARGV, or the batch's ARGV built from them. */
export type CheckScriptArgs = { [N in 'checkAccessToken' | 'checkAccessTokens']: ScriptArgs<(typeof SCRIPTS)[N]> }

/**
 * Runs one of the two check scripts (read-only) and gives its reply; its time
 * limit counts from `startedAtMs`, when the oldest check in it arrived.
 */
export type RunCheckScript = <N extends keyof CheckScriptArgs>(name: N, keys: string[], args: CheckScriptArgs[N], startedAtMs: number) => Promise<ScriptReply>

interface Check {
  keys: [userKey: string, deniedKey: string]
  args: CheckArgs
  resolve(status: AccessTokenStatus): void
  reject(err: unknown): void
}

const CODES = SCRIPTS.checkAccessToken.replies

/** The status a check's reply code stands for (the checkAccessToken descriptor); any other code is an error. */
export function accessStatus(code: unknown): AccessTokenStatus {
  switch (code) {
    case CODES.active:
      return 'active'
    case CODES.sessionEnded:
      return 'session_ended'
    case CODES.tokenDenied:
      return 'token_denied'
    case CODES.userRevoked:
      return 'user_revoked'
    default:
      // A script and its caller that disagree (a half-deployed upgrade) must not be read as an answer.
      throw new StoreUnavailable(`unexpected reply ${String(code)} from checkAccessToken`)
  }
}

/** Resolves a check with the status of its reply code, or rejects it when the code is unknown. */
function settle(check: Check, code: unknown): void {
  try {
    check.resolve(accessStatus(code))
  } catch (err) {
    check.reject(err)
  }
}

/**
 * Strict checks go to Redis as one script call per batch
 * (`checkAccessTokens-n.lua`) instead of one call each: each check after the
 * first saves the client a command's encoding, its socket write (a syscall
 * that wakes Redis: about 20 µs of CPU on loopback), reply parsing, deadline
 * and promise, which was most of strict mode's cost per request
 * (bench/README.md, row 1 profile).
 *
 * A batch is what arrived while the previous one was out: checks wait until
 * the end of the current turn of the event loop (`setImmediate`) and, while a
 * batch is in flight, until its reply. Under load a server handles many
 * requests per round trip to Redis, so batches grow with the load (about 30
 * under 100 connections, against 8 when each turn sent its own), and the cost
 * per round trip is shared by more checks; an idle server still sends a lone
 * check at once (through the single-check script). The wait is inside the
 * check's time limit: a batch's limit counts from when its oldest check
 * arrived, so a check fails closed (StoreUnavailable) within the command time
 * limit of its arrival, however long it queued.
 *
 * On Cluster the keys of different users live in different slots, which one
 * script cannot span: there every check goes alone (`maxBatch` 1).
 */
export class AccessCheckBatch {
  readonly #run: RunCheckScript
  readonly #maxBatch: number
  #queue: Check[] = []
  /** When the oldest queued check arrived (epoch ms). */
  #queuedAtMs = 0
  #scheduled = false
  /** Script calls sent and not yet settled. */
  #inFlight = 0

  constructor(run: RunCheckScript, options: { maxBatch: number }) {
    if (!(options.maxBatch >= 1)) throw new RangeError(`maxBatch must be at least 1, got ${options.maxBatch}`)
    this.#run = run
    this.#maxBatch = options.maxBatch
  }

  check(keys: Check['keys'], args: Check['args']): Promise<AccessTokenStatus> {
    if (this.#maxBatch === 1) return this.#run('checkAccessToken', keys, args, Date.now()).then((reply) => accessStatus(reply.code))
    return new Promise<AccessTokenStatus>((resolve, reject) => {
      if (this.#queue.push({ keys, args, resolve, reject }) === 1) this.#queuedAtMs = Date.now()
      if (this.#inFlight === 0) this.#schedule()
    })
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(this.#flush)
  }

  readonly #flush = (): void => {
    this.#scheduled = false
    const queue = this.#queue
    if (queue.length === 0) return
    this.#queue = []
    for (let from = 0; from < queue.length; from += this.#maxBatch) this.#send(queue.length <= this.#maxBatch ? queue : queue.slice(from, from + this.#maxBatch), this.#queuedAtMs)
  }

  /** A call settled: once none is out, what queued meanwhile goes as the next batch. */
  readonly #settled = (): void => {
    if (--this.#inFlight === 0 && this.#queue.length > 0) this.#schedule()
  }

  #send(batch: Check[], startedAtMs: number): void {
    this.#inFlight++
    if (batch.length === 1) {
      const only = batch[0]!
      this.#run('checkAccessToken', only.keys, only.args, startedAtMs)
        .then(
          (reply) => settle(only, reply.code),
          (err: unknown) => only.reject(err),
        )
        .finally(this.#settled)
      return
    }
    // checkAccessTokens-n.lua takes each check's KEYS and ARGV in turn, as checkAccessToken takes them.
    const keys: string[] = []
    const args: RedisArg[] = []
    for (const check of batch) {
      keys.push(check.keys[0], check.keys[1])
      argvOf(SCRIPTS.checkAccessToken, check.args, args)
    }
    this.#run('checkAccessTokens', keys, args, startedAtMs)
      .then(
        (reply) => {
          const codes = reply.payload
          // The reply code itself was read through the descriptor (only 'checked' gets here); the count must match.
          if (codes.length !== batch.length) {
            const err = new StoreUnavailable(`unexpected reply from checkAccessTokens: code ${reply.code}, ${codes.length} results for ${batch.length} checks`)
            for (const check of batch) check.reject(err)
            return
          }
          for (let i = 0; i < batch.length; i++) settle(batch[i]!, codes[i])
        },
        (err: unknown) => {
          for (const check of batch) check.reject(err)
        },
      )
      .finally(this.#settled)
  }
}
