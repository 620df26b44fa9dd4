import { timingSafeEqual } from 'node:crypto'
import {
  type AccessTokenStatus,
  type AppendHeartbeatRequest,
  AuthError,
  classifyEntry,
  heartbeatToFields,
  type IssuerHeartbeat,
  type BanUserRequest,
  type CheckAccessTokenRequest,
  comparePositions,
  type CheckOneTimeTokenRequest,
  type ConsumeOneTimeTokenRequest,
  type CreateSessionRequest,
  type CreateSessionResult,
  type DenyTokenRequest,
  DpopKeyMismatch,
  type IssueOneTimeTokenRequest,
  localIdCreatedAtMs,
  type MarkDpopProofUsedRequest,
  OneTimeTokenInvalid,
  RefreshTokenExpired,
  RefreshTokenInvalid,
  RefreshTokenReused,
  type RevocationLogEntry,
  type RevocationLogInfo,
  type RevocationLogRead,
  type RevokeAllSessionsRequest,
  type RevokeOneTimeTokensRequest,
  type RevokeSessionRequest,
  type RotateRefreshTokenRequest,
  type RotateRefreshTokenResult,
  SessionLimitReached,
  SessionNotFound,
  type SessionStore,
  type StoredSession,
  StoreUnavailable,
  UserBanned,
  type StoredSigningKeys,
  type WriteSigningKeysRequest,
  type WriteSigningKeysResult,
  type UserState,
} from '@tessera/core'
import { AccessCheckBatch } from './access-check-batch.js'
import type { RedisArg, RedisConnection, RedisConnectionOptions } from './connection.js'
import { KeyNames } from './key-names.js'
import { openRedisConnection } from './open-connection.js'
import { Scripts, type ScriptName, type ScriptReply } from './scripts.js'
import { ReplicationWait, resolveDurability, type RedisDurability } from './replication-wait.js'
import { decodeSessionState } from './session-state.js'
import { SigningKeyStorage } from './signing-key-storage.js'
import { traceCommand } from './telemetry.js'

/**
 * The error a failed Redis call becomes. A deadline that passed is already a
 * {@link StoreUnavailable} that says which limit and how long it waited: keep it.
 */
function unavailable(err: unknown, message: string): StoreUnavailable {
  return err instanceof StoreUnavailable ? err : new StoreUnavailable(message, { cause: err })
}

/** Options of {@link RedisSessionStore.connect}. */
export interface RedisSessionStoreOptions extends RedisConnectionOptions {
  /** First segment of every key. Default `tessera:`. */
  keyPrefix?: string
  /** Make revocations wait for replication before they are acknowledged (see {@link RedisDurability}). */
  durability?: RedisDurability
}

/** Index in a script's arguments of the log retention (ms), for scripts that log events. */
const RETENTION_ARG: Partial<Record<ScriptName, number>> = { createSession: 11, rotateRefreshToken: 8, revokeSession: 4, revokeAllSessions: 3, denyToken: 4 }

/** Scripts whose writes are revocations (waited for with `durability`). */
const REVOCATION_SCRIPTS: ReadonlySet<ScriptName> = new Set(['revokeSession', 'revokeAllSessions', 'denyToken'])

/** Kept beyond the longest time a revocation matters: covers skew between Redis's clock and the issuers'. */
const LOG_RETENTION_SLACK_MS = 60_000

function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
}

/**
 * The Redis {@link SessionStore}: each operation one Lua script (one round trip),
 * every key of a user under one hash tag, every key with a TTL or removed by
 * the operation that ends its need, no SCAN anywhere.
 *
 * @example
 * ```ts
 * const store = await RedisSessionStore.connect({ url: 'redis://127.0.0.1:6379', keyPrefix: 'auth:' })
 * const auth = await createTessera({ store, tokenKey: process.env.TESSERA_TOKEN_KEY })
 * ```
 */
export class RedisSessionStore implements SessionStore {
  /** Several processes share a Redis store: the engine requires a `tokenKey` with it. */
  readonly shared = true
  readonly kind = 'redis'
  readonly keys: KeyNames
  readonly #connection: RedisConnection
  readonly #scripts = new Scripts()
  readonly #ownsConnection: boolean
  readonly #replication: ReplicationWait | null
  readonly #signingKeys: SigningKeyStorage
  readonly #accessChecks: AccessCheckBatch
  #reader: Promise<RedisConnection> | null = null
  #closed = false

  constructor(connection: RedisConnection, options: { keyPrefix?: string; ownsConnection?: boolean; durability?: RedisDurability } = {}) {
    this.#connection = connection
    this.keys = new KeyNames(options.keyPrefix ?? 'tessera:')
    this.#ownsConnection = options.ownsConnection ?? false
    const durability = resolveDurability(options.durability)
    this.#replication = durability ? new ReplicationWait(connection, durability) : null
    this.#signingKeys = new SigningKeyStorage(connection, this.#scripts, this.keys.signingKeys())
    // 64 checks per call bound the time one call holds Redis (a few µs per check).
    this.#accessChecks = new AccessCheckBatch((name, keys, args) => this.#run(name, keys, args, { readOnly: true }), { maxBatch: connection.isCluster ? 1 : 64 })
  }

  /**
   * Opens a connection to the topology the options select (`url`, `sentinel` or
   * `cluster`), loads the scripts and returns a store that closes the connection on {@link close}.
   */
  static async connect(options: RedisSessionStoreOptions): Promise<RedisSessionStore> {
    resolveDurability(options.durability)
    let connection: RedisConnection
    try {
      connection = await openRedisConnection(options)
    } catch (err) {
      if (err instanceof TypeError) throw err
      throw unavailable(err, 'could not connect to Redis')
    }
    const store = new RedisSessionStore(connection, { keyPrefix: options.keyPrefix, ownsConnection: true, durability: options.durability })
    try {
      await store.#scripts.preload(connection)
    } catch (err) {
      // The handshake can succeed and the first command still fail (a TLS server refusing our certificate, an ACL without SCRIPT).
      await store.close()
      throw unavailable(err, 'could not load the scripts into Redis')
    }
    return store
  }

  /** The connection the store sends its commands on. */
  get connection(): RedisConnection {
    return this.#connection
  }

  /** The log key as a script's last KEYS entry, or nothing on Cluster where it lives in another slot. */
  #logKeys(): string[] {
    return this.#connection.isCluster ? [] : [this.keys.revocationLog()]
  }

  async #run(name: ScriptName, keys: string[], args: (RedisArg | number)[], options: { buffers?: boolean; readOnly?: boolean } = {}): Promise<ScriptReply> {
    const replication = REVOCATION_SCRIPTS.has(name) ? this.#replication : null
    let reply: ScriptReply
    let connection = this.#connection
    try {
      if (replication) connection = await replication.connection()
      reply = await this.#scripts.run(connection, name, keys, args.map((a) => (typeof a === 'number' ? String(a) : a)), options)
    } catch (err) {
      throw unavailable(err, 'session store is unavailable')
    }
    if (reply.pending.length > 0) await this.#append(reply.pending, Number(args[RETENTION_ARG[name] ?? -1] ?? LOG_RETENTION_SLACK_MS), connection)
    if (replication) {
      await replication.confirm(keys[0]!, connection)
      if (reply.pending.length > 0) await replication.confirm(this.keys.revocationLog(), connection)
    }
    return reply
  }

  /**
   * Appends events a script returned instead of logging (Cluster, where the log
   * is in another slot), trimmed like the scripts trim it. Not atomic with the
   * script: a crash in between loses the event for cached verifiers only.
   */
  async #append(pending: RedisArg[][], retentionMs: number, connection: RedisConnection): Promise<void> {
    const key = this.keys.revocationLog()
    // The scripts trim by the server's clock; here the process clock stands in, the retention slack covers skew.
    const minId = String(Math.max(Date.now() - retentionMs, 0))
    try {
      await Promise.all(
        pending.map((fields) =>
          connection.send(['XADD', key, 'MINID', '~', minId, '*', ...fields.map((f) => (typeof f === 'number' ? String(f) : f))], { key }),
        ),
      )
    } catch (err) {
      throw unavailable(err, 'could not append to the revocation log')
    }
  }

  async createSession(r: CreateSessionRequest): Promise<CreateSessionResult> {
    const reply = await this.#run(
      'createSession',
      [this.keys.user(r.userId), ...this.#logKeys()],
      [
        r.userId,
        r.localId,
        r.nowMs,
        r.idleExpiresAtMs,
        r.absoluteExpiresAtMs,
        r.refreshSecretHash,
        r.deviceClass,
        r.metadata,
        r.limits.maxSessions,
        r.limits.policy,
        r.limits.perDeviceClass[r.deviceClass] ?? 0,
        r.revocationTtlMs + LOG_RETENTION_SLACK_MS,
        r.dpopBound ? '1' : '0',
        r.tokenHorizonMs,
      ],
    )
    switch (reply.code) {
      case 1:
        return { ok: true, evicted: reply.payload.map(text) }
      case -1: {
        const until = text(reply.payload[0])
        throw new UserBanned(until === 'p' ? null : Number(until))
      }
      case -2:
        throw new SessionLimitReached()
      case -3:
        return { ok: false, cutoffMs: Number(text(reply.payload[0])) }
      default:
        throw new StoreUnavailable(`unexpected reply ${reply.code} from createSession`)
    }
  }

  async rotateRefreshToken(r: RotateRefreshTokenRequest): Promise<RotateRefreshTokenResult> {
    const reply = await this.#run(
      'rotateRefreshToken',
      [this.keys.user(r.userId), ...this.#logKeys()],
      [
        r.userId,
        r.localId,
        r.generation,
        r.presentedHash,
        r.successorHash,
        r.nowMs,
        r.idleTtlMs,
        r.graceMs,
        r.revocationTtlMs + LOG_RETENTION_SLACK_MS,
        r.presentedBoundHash ?? '',
        r.bind ? '1' : '0',
        r.tokenHorizonMs,
      ],
      { buffers: true },
    )
    switch (reply.code) {
      case 1:
      case 2: {
        const [generation, seen, idle, abs, deviceClass, metadata, bound] = reply.payload as [number, number, number, number, Buffer, Buffer, number]
        return {
          outcome: reply.code === 1 ? 'rotated' : 'retried',
          session: {
            localId: r.localId,
            generation: Number(generation),
            createdAtMs: localIdCreatedAtMs(r.localId),
            lastSeenAtMs: Number(seen),
            idleExpiresAtMs: Number(idle),
            absoluteExpiresAtMs: Number(abs),
            deviceClass: text(deviceClass),
            metadata: Buffer.isBuffer(metadata) ? metadata : Buffer.alloc(0),
            dpopBound: Number(bound) === 1,
          },
        }
      }
      case -1:
        throw new SessionNotFound()
      case -2:
        throw new RefreshTokenExpired()
      case -3:
        throw new RefreshTokenReused()
      case -4:
        throw new RefreshTokenInvalid()
      case -5:
        throw new DpopKeyMismatch('the refresh token is bound to another DPoP key; the session has been revoked')
      default:
        throw new StoreUnavailable(`unexpected reply ${reply.code} from rotateRefreshToken`)
    }
  }

  checkAccessToken(r: CheckAccessTokenRequest): Promise<AccessTokenStatus> {
    return this.#accessChecks.check([this.keys.user(r.userId), this.keys.deniedToken(r.userId, r.tokenId)], [r.localId, String(r.sessionCreatedAtMs), String(r.nowMs)])
  }

  async revokeSession(r: RevokeSessionRequest): Promise<boolean> {
    const reply = await this.#run('revokeSession', [this.keys.user(r.userId), ...this.#logKeys()], [
      r.userId,
      r.localId,
      r.nowMs,
      r.reason,
      r.revocationTtlMs + LOG_RETENTION_SLACK_MS,
      r.tokenHorizonMs,
    ])
    return reply.code === 1
  }

  async revokeAllSessions(r: RevokeAllSessionsRequest): Promise<number> {
    const reply = await this.#run(
      'revokeAllSessions',
      [this.keys.user(r.userId), ...this.#logKeys()],
      [r.userId, r.nowMs, r.reason, r.revocationTtlMs + LOG_RETENTION_SLACK_MS, r.exceptLocalId ?? '', '', '', r.tokenHorizonMs],
    )
    return reply.code
  }

  async denyToken(r: DenyTokenRequest): Promise<void> {
    // The log retention must cover the token's remaining life, which is what the verifier cache keeps.
    const retention = Math.max(r.expiresAtMs - r.nowMs, 0) + LOG_RETENTION_SLACK_MS
    await this.#run('denyToken', [this.keys.deniedToken(r.userId, r.tokenId), ...this.#logKeys()], [r.userId, r.tokenId, r.expiresAtMs, r.nowMs, retention])
  }

  async banUser(r: BanUserRequest): Promise<number> {
    const reply = await this.#run(
      'revokeAllSessions',
      [this.keys.user(r.userId), ...this.#logKeys()],
      [r.userId, r.nowMs, 'banned', r.revocationTtlMs + LOG_RETENTION_SLACK_MS, '', r.untilMs === null ? 'p' : String(r.untilMs), r.reason, r.tokenHorizonMs],
    )
    return reply.code
  }

  async unbanUser(r: { userId: string; nowMs: number; revocationTtlMs: number }): Promise<boolean> {
    const reply = await this.#run('unbanUser', [this.keys.user(r.userId)], [r.nowMs, r.revocationTtlMs])
    return reply.code === 1
  }

  async getUserState(userId: string, nowMs: number): Promise<UserState> {
    const key = this.keys.user(userId)
    let values: (string | null)[]
    try {
      values = (await traceCommand('HMGET user', 'HMGET', null, () => this.#connection.send(['HMGET', key, '!ban', '!why', '!cut'], { key }))) as (string | null)[]
    } catch (err) {
      throw unavailable(err, 'session store is unavailable')
    }
    const [ban, why, cut] = values
    const bannedUntilMs = ban && ban !== 'p' ? Number(ban) : null
    const banned = ban === 'p' || (bannedUntilMs !== null && bannedUntilMs > nowMs)
    return {
      banned,
      bannedUntilMs: banned ? bannedUntilMs : null,
      banReason: banned ? (why ?? '') : null,
      revokedBeforeMs: cut ? Number(cut) : null,
    }
  }

  async listSessions(userId: string, nowMs: number): Promise<StoredSession[]> {
    const key = this.keys.user(userId)
    let flat: Buffer[]
    try {
      flat = (await traceCommand('HGETALL user', 'HGETALL', null, () => this.#connection.send(['HGETALL', key], { key, buffers: true }))) as Buffer[]
    } catch (err) {
      throw unavailable(err, 'session store is unavailable')
    }
    const fields = new Map<string, Buffer>()
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!.toString('latin1'), flat[i + 1]!)
    const sessions: StoredSession[] = []
    for (const [name, state] of fields) {
      if (name.length !== 16) continue
      const session = decodeSessionState(name, state, localIdCreatedAtMs(name), fields.get(`${name}.`) ?? Buffer.alloc(0))
      if (Math.min(session.idleExpiresAtMs, session.absoluteExpiresAtMs) > nowMs) sessions.push(session)
    }
    return sessions
  }

  async issueOneTimeToken(r: IssueOneTimeTokenRequest): Promise<void> {
    await this.#run('issueOneTimeToken', [this.keys.oneTimeTokens(r.userId)], [r.purpose, r.secretHash, r.expiresAtMs, r.data, r.nowMs])
  }

  async consumeOneTimeToken(r: ConsumeOneTimeTokenRequest): Promise<string> {
    const reply = await this.#run('consumeOneTimeToken', [this.keys.oneTimeTokens(r.userId)], [r.purpose, r.secretHash, r.nowMs, r.maxAttempts])
    if (reply.code !== 1) throw new OneTimeTokenInvalid()
    return text(reply.payload[0])
  }

  async checkOneTimeToken(r: CheckOneTimeTokenRequest): Promise<boolean> {
    const key = this.keys.oneTimeTokens(r.userId)
    let hash: Buffer | null
    let expiresAt: Buffer | null
    try {
      // A plain read (fields as issueOneTimeToken-1.lua writes them): a check changes nothing, so it needs no script.
      ;[hash, expiresAt] = (await this.#connection.send(['HMGET', key, `${r.purpose}:h`, `${r.purpose}:x`], { key, buffers: true })) as (Buffer | null)[] as [Buffer | null, Buffer | null]
    } catch (err) {
      throw unavailable(err, 'session store is unavailable')
    }
    return hash !== null && expiresAt !== null && Number(expiresAt.toString('latin1')) > r.nowMs && hash.length === r.secretHash.length && timingSafeEqual(hash, r.secretHash)
  }

  async revokeOneTimeTokens(r: RevokeOneTimeTokensRequest): Promise<number> {
    return (await this.#run('revokeOneTimeTokens', [this.keys.oneTimeTokens(r.userId)], [...(r.purposes ?? [])])).code
  }

  async markDpopProofUsed(r: MarkDpopProofUsedRequest): Promise<boolean> {
    const key = this.keys.dpopProof(r.proofKey)
    try {
      // SET NX is atomic on its own; PX uses Redis's clock, so instances with different clocks expire it alike.
      return (await traceCommand('SET dpop-proof', 'SET', null, () => this.#connection.send(['SET', key, '1', 'NX', 'PX', String(r.ttlMs)], { key }))) !== null
    } catch (err) {
      throw new StoreUnavailable('session store is unavailable', { cause: err })
    }
  }

  async #logStatus(connection: RedisConnection): Promise<{ lastPosition: string | null; length: number; firstPosition: string | null }> {
    const key = this.keys.revocationLog()
    try {
      const raw = (await connection.send(['XINFO', 'STREAM', key], { key })) as unknown[]
      const info = new Map<string, unknown>()
      for (let i = 0; i + 1 < raw.length; i += 2) info.set(String(raw[i]), raw[i + 1])
      const first = info.get('first-entry') as [string, unknown] | null | undefined
      return {
        lastPosition: (info.get('last-generated-id') as string | undefined) ?? null,
        length: Number(info.get('length') ?? 0),
        firstPosition: first?.[0] ?? null,
      }
    } catch (err) {
      if (err instanceof Error && /no such key/i.test(err.message)) return { lastPosition: null, length: 0, firstPosition: null }
      throw err
    }
  }

  /**
   * True when entries after `after` may have been trimmed before this reader saw
   * them. Trimming does not move Redis 7.0's max-deleted-entry-id, so this
   * compares with the oldest entry kept: conservative (a reader whose own last
   * entry was trimmed is told of a gap even when nothing after it was lost),
   * never blind.
   */
  #gap(after: string | null, status: { lastPosition: string | null; firstPosition: string | null }): boolean {
    if (after === null || status.lastPosition === null) return false
    if (status.firstPosition === null) return comparePositions(after, status.lastPosition) < 0
    return comparePositions(after, status.firstPosition) < 0
  }

  /**
   * One XREAD. With `checkGap` (the default) an XINFO STREAM goes in the same
   * pipeline, still one round trip: it is what tells a reader that entries
   * after its position were trimmed. A follower that reads continuously can
   * ask for it only after a (re)connect and now and then (see the log
   * follower), since trimming never reaches entries younger than the retention.
   */
  async readRevocations(after: string | null, options: { count?: number; blockMs?: number; checkGap?: boolean } = {}): Promise<RevocationLogRead> {
    const key = this.keys.revocationLog()
    const count = options.count ?? 1000
    const blockMs = options.blockMs ?? 0
    try {
      const connection = blockMs > 0 ? await this.#blockingReader() : this.#connection
      // Sent before the XREAD on the same connection, so Redis answers it first: the pair is one round trip.
      const status = options.checkGap === false ? null : this.#logStatus(connection)
      const args = ['XREAD', 'COUNT', String(count), ...(blockMs > 0 ? ['BLOCK', String(blockMs)] : []), 'STREAMS', key, after ?? '0-0']
      const read = connection.send(args, { key, timeoutMs: blockMs > 0 ? blockMs + 1000 : undefined }) as Promise<[string, [string, string[]][]][] | null>
      // Both are awaited together: a failed XINFO must not leave the XREAD's rejection unhandled.
      const [logStatus, raw] = await Promise.all([status, read])
      const gap = logStatus ? this.#gap(after, logStatus) : false
      const into = { entries: [] as RevocationLogEntry[], heartbeats: [] as IssuerHeartbeat[] }
      let lastPosition: string | null = null
      const items = raw?.[0]?.[1] ?? []
      for (const [id, flat] of items) {
        const fields: Record<string, string> = {}
        for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!
        classifyEntry(id, fields, into)
        lastPosition = id
      }
      return { ...into, lastPosition, count: items.length, gap }
    } catch (err) {
      if (err instanceof AuthError) throw err
      throw unavailable(err, 'could not read the revocation log')
    }
  }

  #blockingReader(): Promise<RedisConnection> {
    this.#reader ??= this.#connection.duplicate().catch((err: unknown) => {
      this.#reader = null
      throw err
    })
    return this.#reader
  }

  async appendHeartbeat(r: AppendHeartbeatRequest): Promise<void> {
    const key = this.keys.revocationLog()
    // One command on the log's own key: the same on Cluster. Trimmed like every append (see #append).
    const minId = String(Math.max(Date.now() - r.retentionMs - LOG_RETENTION_SLACK_MS, 0))
    try {
      await this.#connection.send(['XADD', key, 'MINID', '~', minId, '*', ...heartbeatToFields(r.heartbeat)], { key })
    } catch (err) {
      throw unavailable(err, 'could not append to the revocation log')
    }
  }

  async revocationLogInfo(): Promise<RevocationLogInfo> {
    try {
      const { lastPosition, length } = await this.#logStatus(this.#connection)
      return { lastPosition, length }
    } catch (err) {
      throw unavailable(err, 'could not read the revocation log')
    }
  }

  readSigningKeys(): Promise<StoredSigningKeys | null> {
    return this.#signingKeys.read()
  }

  signingKeysVersion(): Promise<number> {
    return this.#signingKeys.version()
  }

  writeSigningKeys(r: WriteSigningKeysRequest): Promise<WriteSigningKeysResult> {
    return this.#signingKeys.write(r)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const reader = this.#reader
    this.#reader = null
    // A reader that failed to open has nothing to close.
    if (reader) await reader.then((r) => r.close(), () => undefined)
    await this.#replication?.close()
    if (this.#ownsConnection) await this.#connection.close()
  }
}
