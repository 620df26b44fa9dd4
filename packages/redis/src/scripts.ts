import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Span } from '@opentelemetry/api'
import { StoreUnavailable } from '@tessera/core'
import type { RedisArg, RedisConnection, SendOptions } from './connection.js'
import { SCRIPTS, type ArgOf, type ReplyOf, type ScriptDescriptor, type ScriptName } from './script-descriptors.js'
import { DB_ATTR, traceCommand } from './telemetry.js'

export type { ScriptName } from './script-descriptors.js'

/** A script's reply: `{ code, payload, pending events }` (see `lua/includes/common.lua`). */
export interface ScriptReply {
  code: number
  payload: unknown[]
  /** Events the script could not append itself (Cluster): flat field lists. */
  pending: RedisArg[][]
}

/** A reply read through its descriptor: the code's name (`count` for a count). */
export interface DescribedReply<Reply extends string> extends ScriptReply {
  reply: Reply
}

/** Arguments of a script by name (or, for a variadic one, a list). */
export type ScriptArgs<D> = D extends { argv: 'variadic' } ? readonly RedisArg[] : Readonly<Record<ArgOf<D>, RedisArg | number>>

/** What {@link Scripts.call} and {@link Scripts.run} accept besides the script's own settings. */
export type RunOptions = SendOptions & { untraced?: boolean }

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

/** The ARGV of a call, in the descriptor's order, appended to `into` (a batch of calls' ARGV is one list). */
export function argvOf(descriptor: ScriptDescriptor, args: Readonly<Record<string, RedisArg | number>> | readonly RedisArg[], into: RedisArg[] = []): RedisArg[] {
  const list = descriptor.argv === 'variadic' ? (args as readonly RedisArg[]) : descriptor.argv.map((name) => (args as Record<string, RedisArg | number>)[name]!)
  for (const a of list) into.push(typeof a === 'number' ? String(a) : a)
  return into
}

/**
 * The name of a reply code; a code the descriptor does not list is a
 * {@link StoreUnavailable}: a script and its caller that disagree (a
 * half-deployed upgrade, a hand-loaded script) must not be read as an answer.
 */
export function replyName<D extends ScriptDescriptor>(name: ScriptName, descriptor: D, code: unknown): ReplyOf<D> {
  for (const [reply, value] of Object.entries<number>(descriptor.replies)) {
    if (value === code) return reply as ReplyOf<D>
  }
  if (descriptor.counts && typeof code === 'number' && Number.isSafeInteger(code) && code >= 0) return 'count' as ReplyOf<D>
  throw new StoreUnavailable(`unexpected reply ${String(code)} from ${name}`)
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
    this.#scripts = Object.fromEntries(Object.entries(SCRIPTS).map(([name, d]) => [name, load(name, d.file, common)])) as Record<ScriptName, LoadedScript>
  }

  /** Loads every script into the server's cache, so the first request pays nothing. */
  async preload(connection: RedisConnection): Promise<void> {
    if (connection.isCluster) return
    await Promise.all(Object.values(this.#scripts).map((s) => connection.send(['SCRIPT', 'LOAD', s.source])))
  }

  /**
   * Runs a script by its descriptor: arguments by name, the reply by name;
   * read-only and buffer replies as the descriptor says.
   *
   * @example
   * ```ts
   * const { reply } = await scripts.call(connection, 'unbanUser', [keys.user(userId)], { nowMs, revocationTtlMs })
   * if (reply === 'lifted') ...
   * ```
   * @throws {StoreUnavailable} for a reply code the descriptor does not list
   */
  async call<N extends ScriptName>(
    connection: RedisConnection,
    name: N,
    keys: string[],
    args: ScriptArgs<(typeof SCRIPTS)[N]>,
    options: RunOptions = {},
  ): Promise<DescribedReply<ReplyOf<(typeof SCRIPTS)[N]>>> {
    const descriptor: ScriptDescriptor = SCRIPTS[name]
    if (descriptor.keys !== 'variadic') {
      const required = descriptor.keys.filter((k) => !k.endsWith('?')).length
      if (keys.length < required || keys.length > descriptor.keys.length) throw new TypeError(`${name} takes ${descriptor.keys.join(', ')} as KEYS`)
    }
    const raw = await this.run(connection, name, keys, argvOf(descriptor, args), { ...options, readOnly: descriptor.readOnly, buffers: descriptor.buffers ?? options.buffers })
    return { ...raw, reply: replyName(name, SCRIPTS[name], raw.code) }
  }

  /**
   * Runs a script with positional ARGV (the Lua tests use it; callers use {@link call}); `readOnly` scripts use EVALSHA_RO so they may run on
   * replicas. Each run is a client span (`EVALSHA <name>`, see
   * `telemetry.ts`) unless `untraced`: for polls that run whether or not
   * there is work, which would be a span per idle loop.
   */
  run(connection: RedisConnection, name: ScriptName, keys: string[], args: RedisArg[], options: RunOptions & { readOnly?: boolean } = {}): Promise<ScriptReply> {
    if (options.untraced) return this.#run(connection, name, keys, args, options, null)
    const script = this.#scripts[name]
    const operation = options.readOnly ? 'EVALSHA_RO' : 'EVALSHA'
    return traceCommand(options.readOnly ? script.readOnlySpanName : script.spanName, operation, name, (span) => this.#run(connection, name, keys, args, options, span))
  }

  async #run(connection: RedisConnection, name: ScriptName, keys: string[], args: RedisArg[], options: SendOptions & { readOnly?: boolean }, span: Span | null): Promise<ScriptReply> {
    const script = this.#scripts[name]
    // One array, built once: a strict batch has hundreds of arguments.
    const command: RedisArg[] = [options.readOnly ? 'EVALSHA_RO' : 'EVALSHA', script.sha, String(keys.length)]
    for (const key of keys) command.push(key)
    for (const arg of args) command.push(arg)
    const send: SendOptions = { ...options, key: keys[0] }
    let raw: unknown
    try {
      raw = await connection.send(command, send)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      // Worth seeing in a trace: the script cache was flushed (restart, failover) and this call sent the source.
      if (span?.isRecording()) span.addEvent('NOSCRIPT: sent the script source (EVAL)')
      raw = await connection.send([options.readOnly ? 'EVAL_RO' : 'EVAL', script.source, ...command.slice(2)], send)
    }
    const [code, payload, pending] = raw as [number, unknown[], RedisArg[][]]
    if (span?.isRecording()) span.setAttribute(DB_ATTR.replyCode, Number(code))
    return { code: Number(code), payload: payload ?? [], pending: pending ?? [] }
  }
}
