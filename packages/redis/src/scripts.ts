import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Span } from '@opentelemetry/api'
import type { RedisArg, RedisConnection, SendOptions } from './connection.js'
import { DB_ATTR, traceCommand } from './telemetry.js'

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
  /** Span names, made once: `EVALSHA <name>` and `EVALSHA_RO <name>`. */
  spanName: string
  readOnlySpanName: string
}

function load(name: string, file: string, common: string): LoadedScript {
  const source = `${common}\n${readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8')}`
  return { source, sha: createHash('sha1').update(source).digest('hex'), spanName: `EVALSHA ${name}`, readOnlySpanName: `EVALSHA_RO ${name}` }
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
    this.#scripts = Object.fromEntries(Object.entries(FILES).map(([name, file]) => [name, load(name, file, common)])) as Record<ScriptName, LoadedScript>
  }

  /** Loads every script into the server's cache, so the first request pays nothing. */
  async preload(connection: RedisConnection): Promise<void> {
    if (connection.isCluster) return
    await Promise.all(Object.values(this.#scripts).map((s) => connection.send(['SCRIPT', 'LOAD', s.source])))
  }

  /**
   * Runs a script; `readOnly` scripts use EVALSHA_RO so they may run on
   * replicas. Each run is a client span (`EVALSHA <name>`, see
   * `telemetry.ts`) unless `untraced`: for polls that run whether or not
   * there is work, which would be a span per idle loop.
   */
  run(connection: RedisConnection, name: ScriptName, keys: string[], args: RedisArg[], options: SendOptions & { readOnly?: boolean; untraced?: boolean } = {}): Promise<ScriptReply> {
    if (options.untraced) return this.#run(connection, name, keys, args, options, null)
    const script = this.#scripts[name]
    const operation = options.readOnly ? 'EVALSHA_RO' : 'EVALSHA'
    return traceCommand(options.readOnly ? script.readOnlySpanName : script.spanName, operation, name, (span) => this.#run(connection, name, keys, args, options, span))
  }

  async #run(connection: RedisConnection, name: ScriptName, keys: string[], args: RedisArg[], options: SendOptions & { readOnly?: boolean }, span: Span | null): Promise<ScriptReply> {
    const script = this.#scripts[name]
    const tail = [String(keys.length), ...keys, ...args]
    const send: SendOptions = { ...options, key: keys[0] }
    let raw: unknown
    try {
      raw = await connection.send([options.readOnly ? 'EVALSHA_RO' : 'EVALSHA', script.sha, ...tail], send)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      // Worth seeing in a trace: the script cache was flushed (restart, failover) and this call sent the source.
      if (span?.isRecording()) span.addEvent('NOSCRIPT: sent the script source (EVAL)')
      raw = await connection.send([options.readOnly ? 'EVAL_RO' : 'EVAL', script.source, ...tail], send)
    }
    const [code, payload, pending] = raw as [number, unknown[], RedisArg[][]]
    if (span?.isRecording()) span.setAttribute(DB_ATTR.replyCode, Number(code))
    return { code: Number(code), payload: payload ?? [], pending: pending ?? [] }
  }
}
