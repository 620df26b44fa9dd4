import { type AccessTokenStatus, StoreUnavailable } from '@tessera/core'
import { SCRIPTS } from './script-descriptors.js'
import { replyName, type ScriptName, type ScriptReply } from './scripts.js'

/** Runs one of the two check scripts (read-only) and gives its reply. */
export type RunCheckScript = (name: Extract<ScriptName, 'checkAccessToken' | 'checkAccessTokens'>, keys: string[], args: string[]) => Promise<ScriptReply>

interface Check {
  keys: [userKey: string, deniedKey: string]
  args: [localId: string, sessionCreatedAtMs: string, nowMs: string]
  resolve(status: AccessTokenStatus): void
  reject(err: unknown): void
}

/** The status a check's reply code stands for (the checkAccessToken descriptor); any other code is an error. */
export function accessStatus(code: unknown): AccessTokenStatus {
  switch (replyName('checkAccessToken', SCRIPTS.checkAccessToken, code)) {
    case 'active':
      return 'active'
    case 'sessionEnded':
      return 'session_ended'
    case 'tokenDenied':
      return 'token_denied'
    case 'userRevoked':
      return 'user_revoked'
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
 * Strict checks that arrive in one turn of the event loop go to Redis as one
 * script call (`checkAccessTokens-n.lua`) instead of one call each. Under
 * load a server handles many requests per turn (each poll phase reads every
 * socket that has data); for each check after the first this saves the
 * client a command's encoding, reply parsing, deadline and promise, which was
 * most of strict mode's cost per request (bench/README.md, row 1 profile).
 * A check waits at most until the end of the current turn (`setImmediate`);
 * a lone check goes alone, through the single-check script.
 *
 * On Cluster the keys of different users live in different slots, which one
 * script cannot span: there every check goes alone (`maxBatch` 1).
 */
export class AccessCheckBatch {
  readonly #run: RunCheckScript
  readonly #maxBatch: number
  #queue: Check[] = []
  #scheduled = false

  constructor(run: RunCheckScript, options: { maxBatch: number }) {
    if (!(options.maxBatch >= 1)) throw new RangeError(`maxBatch must be at least 1, got ${options.maxBatch}`)
    this.#run = run
    this.#maxBatch = options.maxBatch
  }

  check(keys: Check['keys'], args: Check['args']): Promise<AccessTokenStatus> {
    if (this.#maxBatch === 1) return this.#run('checkAccessToken', keys, args).then((reply) => accessStatus(reply.code))
    return new Promise<AccessTokenStatus>((resolve, reject) => {
      this.#queue.push({ keys, args, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(this.#flush)
      }
    })
  }

  readonly #flush = (): void => {
    this.#scheduled = false
    const queue = this.#queue
    this.#queue = []
    for (let from = 0; from < queue.length; from += this.#maxBatch) this.#send(queue.slice(from, from + this.#maxBatch))
  }

  #send(batch: Check[]): void {
    if (batch.length === 1) {
      const only = batch[0]!
      this.#run('checkAccessToken', only.keys, only.args).then(
        (reply) => settle(only, reply.code),
        (err: unknown) => only.reject(err),
      )
      return
    }
    const keys: string[] = []
    const args: string[] = []
    for (const check of batch) {
      keys.push(...check.keys)
      args.push(...check.args)
    }
    this.#run('checkAccessTokens', keys, args).then(
      (reply) => {
        const codes = reply.payload
        // The reply code itself was read through the descriptor (only 'checked' gets here); the count must match.
        if (codes.length !== batch.length) {
          const err = new StoreUnavailable(`unexpected reply from checkAccessTokens: code ${reply.code}, ${codes.length} results for ${batch.length} checks`)
          for (const check of batch) check.reject(err)
          return
        }
        batch.forEach((check, i) => settle(check, codes[i]))
      },
      (err: unknown) => {
        for (const check of batch) check.reject(err)
      },
    )
  }
}
