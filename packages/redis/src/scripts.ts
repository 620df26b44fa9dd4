import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { RedisArg, RedisConnection, SendOptions } from './connection.js'

/** Names of the commands in `lua/`, each file `<name>-<number of KEYS, or n when it varies>.lua`. */
export type ScriptName =
  | 'createSession'
  | 'rotateRefreshToken'
  | 'checkAccessToken'
  | 'checkAccessTokens'
  | 'revokeSession'
  | 'revokeAllSessions'
  | 'unbanUser'
  | 'denyToken'
  | 'issueOneTimeToken'
  | 'consumeOneTimeToken'
  | 'revokeOneTimeTokens'
  | 'ackDelivery'
  | 'retryDelivery'
  | 'deadLetterDelivery'
  | 'promoteDeliveries'
  | 'forgetIdleConsumers'
  | 'writeSigningKeys'

const FILES: Record<ScriptName, string> = {
  createSession: 'createSession-2.lua',
  rotateRefreshToken: 'rotateRefreshToken-2.lua',
  checkAccessToken: 'checkAccessToken-2.lua',
  checkAccessTokens: 'checkAccessTokens-n.lua',
  revokeSession: 'revokeSession-2.lua',
  revokeAllSessions: 'revokeAllSessions-2.lua',
  unbanUser: 'unbanUser-1.lua',
  denyToken: 'denyToken-2.lua',
  issueOneTimeToken: 'issueOneTimeToken-1.lua',
  consumeOneTimeToken: 'consumeOneTimeToken-1.lua',
  revokeOneTimeTokens: 'revokeOneTimeTokens-1.lua',
  ackDelivery: 'ackDelivery-1.lua',
  retryDelivery: 'retryDelivery-2.lua',
  deadLetterDelivery: 'deadLetterDelivery-2.lua',
  promoteDeliveries: 'promoteDeliveries-2.lua',
  forgetIdleConsumers: 'forgetIdleConsumers-1.lua',
  writeSigningKeys: 'writeSigningKeys-1.lua',
}

/** A script's reply: `{ code, payload, pending events }` (see `lua/includes/common.lua`). */
export interface ScriptReply {
  code: number
  payload: unknown[]
  /** Events the script could not append itself (Cluster): flat field lists. */
  pending: RedisArg[][]
}

interface LoadedScript {
  source: string
  sha: string
}

function load(file: string, common: string): LoadedScript {
  const source = `${common}\n${readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8')}`
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

/**
 * The Lua commands, read once at start-up and run by SHA. A `NOSCRIPT` reply
 * (after `SCRIPT FLUSH`, a restart or a failover to a replica that never saw the
 * script) falls back to `EVAL`, which also caches the script again.
 */
export class Scripts {
  readonly #scripts: Record<ScriptName, LoadedScript>

  constructor() {
    const common = readFileSync(new URL('./lua/includes/common.lua', import.meta.url), 'utf8')
    this.#scripts = Object.fromEntries(Object.entries(FILES).map(([name, file]) => [name, load(file, common)])) as Record<ScriptName, LoadedScript>
  }

  /** Loads every script into the server's cache, so the first request pays nothing. */
  async preload(connection: RedisConnection): Promise<void> {
    if (connection.isCluster) return
    await Promise.all(Object.values(this.#scripts).map((s) => connection.send(['SCRIPT', 'LOAD', s.source])))
  }

  /** Runs a script; `readOnly` scripts use EVALSHA_RO so they may run on replicas. */
  async run(connection: RedisConnection, name: ScriptName, keys: string[], args: RedisArg[], options: SendOptions & { readOnly?: boolean } = {}): Promise<ScriptReply> {
    const script = this.#scripts[name]
    const tail = [String(keys.length), ...keys, ...args]
    const send: SendOptions = { ...options, key: keys[0] }
    let raw: unknown
    try {
      raw = await connection.send([options.readOnly ? 'EVALSHA_RO' : 'EVALSHA', script.sha, ...tail], send)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      raw = await connection.send([options.readOnly ? 'EVAL_RO' : 'EVAL', script.source, ...tail], send)
    }
    const [code, payload, pending] = raw as [number, unknown[], RedisArg[][]]
    return { code: Number(code), payload: payload ?? [], pending: pending ?? [] }
  }
}
