import { timingSafeEqual } from 'node:crypto'
import {
  type AccessTokenStatus,
  type AppendHeartbeatRequest,
  type BanUserRequest,
  type CheckAccessTokenRequest,
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
  UserBanned,
  type StoredSigningKeys,
  type WriteSigningKeysRequest,
  type WriteSigningKeysResult,
  type UserState,
} from '@tessera/core'
import { AccessCheckBatch } from './access-check-batch.js'
import type { RedisConnection, RedisConnectionOptions } from './connection.js'
import { KeyNames } from './key-names.js'
import { openRedisConnection } from './open-connection.js'
import { LOG_RETENTION_SLACK_MS, RevocationLogStorage, unavailable } from './revocation-log-storage.js'
import { SCRIPTS, type ReplyOf, type ScriptDescriptor, type ScriptName } from './script-descriptors.js'
import { Scripts, type DescribedReply, type RunOptions, type ScriptArgs } from './scripts.js'
import { ReplicationWait, resolveDurability, type RedisDurability } from './replication-wait.js'
import { decodeSessionState } from './session-state.js'
import { SigningKeyStorage } from './signing-key-storage.js'
import { readDiagnostics, type RedisStoreDiagnostics, type RedisStoreDiagnosticsOptions } from './store-diagnostics.js'
import { traceCommand } from './telemetry.js'

/** Options of {@link RedisSessionStore.connect}. */
export interface RedisSessionStoreOptions extends RedisConnectionOptions {
  /** First segment of every key. Default `tessera:`. */
  keyPrefix?: string
  /** Make revocations wait for replication before they are acknowledged (see {@link RedisDurability}). */
  durability?: RedisDurability
}

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
  readonly #keys: KeyNames
  readonly #connection: RedisConnection
  readonly #scripts = new Scripts()
  readonly #ownsConnection: boolean
  readonly #replication: ReplicationWait | null
  readonly #signingKeys: SigningKeyStorage
  readonly #log: RevocationLogStorage
  readonly #accessChecks: AccessCheckBatch
  #closed = false

  constructor(connection: RedisConnection, options: { keyPrefix?: string; ownsConnection?: boolean; durability?: RedisDurability } = {}) {
    this.#connection = connection
    this.#keys = new KeyNames(options.keyPrefix ?? 'tessera:')
    this.#ownsConnection = options.ownsConnection ?? false
    const durability = resolveDurability(options.durability)
    this.#replication = durability ? new ReplicationWait(connection, durability) : null
    this.#signingKeys = new SigningKeyStorage(connection, this.#scripts, this.#keys.signingKeys())
    this.#log = new RevocationLogStorage(connection, this.#keys.revocationLog())
    // 64 checks per call bound the time one call holds Redis (a few µs per check).
    this.#accessChecks = new AccessCheckBatch((name, keys, args, startedAtMs) => this.#run(name, keys, args, { startedAtMs }), { maxBatch: connection.isCluster ? 1 : 64 })
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

  /** First segment of every key of this store (the `keyPrefix` option). */
  get keyPrefix(): string {
    return this.#keys.prefix
  }

  /** The stream key of the revocation log, which verifiers and other readers follow (docs/revocation-log.md). */
  get revocationLogKey(): string {
    return this.#keys.revocationLog()
  }

  /**
   * What an operator needs to size the store (`tessera stats`), without SCAN:
   * Redis memory, the key count of this store's own database (never other
   * databases'), and the bytes of each sampled user's key. The sample is the
   * users named, else those in the newest revocation-log entries.
   *
   * @example
   * ```ts
   * const { memory, database, users } = await store.diagnostics({ users: ['42'] })
   * ```
   */
  diagnostics(options: RedisStoreDiagnosticsOptions = {}): Promise<RedisStoreDiagnostics> {
    return readDiagnostics({ connection: this.#connection, keys: this.#keys, log: this.#log }, options)
  }

  /** The connection the store sends its commands on. */
  get connection(): RedisConnection {
    return this.#connection
  }

  /** The log key as a script's last KEYS entry, or nothing on Cluster where it lives in another slot. */
  #logKeys(): string[] {
    return this.#connection.isCluster ? [] : [this.#keys.revocationLog()]
  }

  /**
   * Runs a script by its descriptor: revocations wait for replication with
   * `durability`, events the script could not log (Cluster) are appended here.
   */
  async #run<N extends ScriptName>(name: N, keys: string[], args: ScriptArgs<(typeof SCRIPTS)[N]>, options?: RunOptions): Promise<DescribedReply<ReplyOf<(typeof SCRIPTS)[N]>>> {
    const descriptor: ScriptDescriptor = SCRIPTS[name]
    const replication = descriptor.revocation ? this.#replication : null
    let reply: DescribedReply<ReplyOf<(typeof SCRIPTS)[N]>>
    let connection = this.#connection
    try {
      if (replication) connection = await replication.connection()
      reply = await this.#scripts.call(connection, name, keys, args, options)
    } catch (err) {
      throw unavailable(err, 'session store is unavailable')
    }
    if (reply.pending.length > 0) {
      const retention = descriptor.retention === undefined ? LOG_RETENTION_SLACK_MS : Number((args as Record<string, unknown>)[descriptor.retention])
      await this.#log.append(reply.pending, retention, connection)
    }
    if (replication) {
      await replication.confirm(keys[0]!, connection)
      if (reply.pending.length > 0) await replication.confirm(this.#keys.revocationLog(), connection)
    }
    return reply
  }

  async createSession(r: CreateSessionRequest): Promise<CreateSessionResult> {
    const reply = await this.#run('createSession', [this.#keys.user(r.userId), ...this.#logKeys()], {
      userId: r.userId,
      localId: r.localId,
      nowMs: r.nowMs,
      idleExpiresAtMs: r.idleExpiresAtMs,
      absoluteExpiresAtMs: r.absoluteExpiresAtMs,
      refreshSecretHash: r.refreshSecretHash,
      deviceClass: r.deviceClass,
      metadata: r.metadata,
      maxSessions: r.limits.maxSessions,
      policy: r.limits.policy,
      deviceClassLimit: r.limits.perDeviceClass[r.deviceClass] ?? 0,
      revocationTtlMs: r.revocationTtlMs + LOG_RETENTION_SLACK_MS,
      dpopBound: r.dpopBound ? '1' : '0',
      tokenHorizonMs: r.tokenHorizonMs,
    })
    switch (reply.reply) {
      case 'created':
        return { ok: true, evicted: reply.payload.map(text) }
      case 'banned': {
        const until = text(reply.payload[0])
        throw new UserBanned(until === 'p' ? null : Number(until))
      }
      case 'limitReached':
        throw new SessionLimitReached()
      case 'beforeCutoff':
        return { ok: false, cutoffMs: Number(text(reply.payload[0])) }
    }
  }

  async rotateRefreshToken(r: RotateRefreshTokenRequest): Promise<RotateRefreshTokenResult> {
    const reply = await this.#run('rotateRefreshToken', [this.#keys.user(r.userId), ...this.#logKeys()], {
      userId: r.userId,
      localId: r.localId,
      generation: r.generation,
      presentedHash: r.presentedHash,
      successorHash: r.successorHash,
      nowMs: r.nowMs,
      idleTtlMs: r.idleTtlMs,
      graceMs: r.graceMs,
      revocationTtlMs: r.revocationTtlMs + LOG_RETENTION_SLACK_MS,
      presentedBoundHash: r.presentedBoundHash ?? '',
      bind: r.bind ? '1' : '0',
      tokenHorizonMs: r.tokenHorizonMs,
    })
    switch (reply.reply) {
      case 'rotated':
      case 'retried': {
        const [generation, seen, idle, abs, deviceClass, metadata, bound] = reply.payload as [number, number, number, number, Buffer, Buffer, number]
        return {
          outcome: reply.reply,
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
      case 'notFound':
        throw new SessionNotFound()
      case 'expired':
        throw new RefreshTokenExpired()
      case 'reused': {
        const [deviceClass, metadata] = reply.payload as [Buffer, Buffer]
        throw new RefreshTokenReused(undefined, { storedDevice: { deviceClass: text(deviceClass), metadata: Buffer.isBuffer(metadata) ? metadata : Buffer.alloc(0) } })
      }
      case 'mismatch':
        throw new RefreshTokenInvalid()
      case 'keyMismatch':
        throw new DpopKeyMismatch('the refresh token is bound to another DPoP key; the session has been revoked')
    }
  }

  checkAccessToken(r: CheckAccessTokenRequest): Promise<AccessTokenStatus> {
    return this.#accessChecks.check([this.#keys.user(r.userId), this.#keys.deniedToken(r.userId, r.tokenId)], { localId: r.localId, sessionCreatedAtMs: r.sessionCreatedAtMs, nowMs: r.nowMs })
  }

  async revokeSession(r: RevokeSessionRequest): Promise<boolean> {
    const reply = await this.#run('revokeSession', [this.#keys.user(r.userId), ...this.#logKeys()], {
      userId: r.userId,
      localId: r.localId,
      nowMs: r.nowMs,
      reason: r.reason,
      revocationTtlMs: r.revocationTtlMs + LOG_RETENTION_SLACK_MS,
      tokenHorizonMs: r.tokenHorizonMs,
    })
    return reply.reply === 'revoked'
  }

  async revokeAllSessions(r: RevokeAllSessionsRequest): Promise<number> {
    const reply = await this.#run('revokeAllSessions', [this.#keys.user(r.userId), ...this.#logKeys()], {
      userId: r.userId,
      nowMs: r.nowMs,
      reason: r.reason,
      revocationTtlMs: r.revocationTtlMs + LOG_RETENTION_SLACK_MS,
      exceptLocalId: r.exceptLocalId ?? '',
      ban: '',
      banReason: '',
      tokenHorizonMs: r.tokenHorizonMs,
    })
    return reply.code
  }

  async denyToken(r: DenyTokenRequest): Promise<void> {
    // The log retention must cover the token's remaining life, which is what the verifier cache keeps.
    const retentionMs = Math.max(r.expiresAtMs - r.nowMs, 0) + LOG_RETENTION_SLACK_MS
    await this.#run('denyToken', [this.#keys.deniedToken(r.userId, r.tokenId), ...this.#logKeys()], { userId: r.userId, tokenId: r.tokenId, expiresAtMs: r.expiresAtMs, nowMs: r.nowMs, retentionMs })
  }

  async banUser(r: BanUserRequest): Promise<number> {
    const reply = await this.#run('revokeAllSessions', [this.#keys.user(r.userId), ...this.#logKeys()], {
      userId: r.userId,
      nowMs: r.nowMs,
      reason: 'banned',
      revocationTtlMs: r.revocationTtlMs + LOG_RETENTION_SLACK_MS,
      exceptLocalId: '',
      ban: r.untilMs === null ? 'p' : String(r.untilMs),
      banReason: r.reason,
      tokenHorizonMs: r.tokenHorizonMs,
    })
    return reply.code
  }

  async unbanUser(r: { userId: string; nowMs: number; revocationTtlMs: number }): Promise<boolean> {
    const reply = await this.#run('unbanUser', [this.#keys.user(r.userId)], { nowMs: r.nowMs, revocationTtlMs: r.revocationTtlMs })
    return reply.reply === 'lifted'
  }

  async getUserState(userId: string, nowMs: number): Promise<UserState> {
    const key = this.#keys.user(userId)
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
    const key = this.#keys.user(userId)
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
    await this.#run('issueOneTimeToken', [this.#keys.oneTimeTokens(r.userId)], { purpose: r.purpose, secretHash: r.secretHash, expiresAtMs: r.expiresAtMs, data: r.data, nowMs: r.nowMs })
  }

  async consumeOneTimeToken(r: ConsumeOneTimeTokenRequest): Promise<string> {
    const reply = await this.#run('consumeOneTimeToken', [this.#keys.oneTimeTokens(r.userId)], { purpose: r.purpose, secretHash: r.secretHash, nowMs: r.nowMs, maxAttempts: r.maxAttempts })
    if (reply.reply !== 'consumed') throw new OneTimeTokenInvalid()
    return text(reply.payload[0])
  }

  async checkOneTimeToken(r: CheckOneTimeTokenRequest): Promise<boolean> {
    const key = this.#keys.oneTimeTokens(r.userId)
    let hash: Buffer | null
    let expiresAt: Buffer | null
    try {
      // A plain read (fields as issueOneTimeToken-1.lua writes them): a check changes nothing, so it needs no script.
      ;[hash, expiresAt] = (await traceCommand('HMGET one-time-tokens', 'HMGET', null, () =>
        this.#connection.send(['HMGET', key, `${r.purpose}:h`, `${r.purpose}:x`], { key, buffers: true }),
      )) as (Buffer | null)[] as [Buffer | null, Buffer | null]
    } catch (err) {
      throw unavailable(err, 'session store is unavailable')
    }
    return hash !== null && expiresAt !== null && Number(expiresAt.toString('latin1')) > r.nowMs && hash.length === r.secretHash.length && timingSafeEqual(hash, r.secretHash)
  }

  async revokeOneTimeTokens(r: RevokeOneTimeTokensRequest): Promise<number> {
    return (await this.#run('revokeOneTimeTokens', [this.#keys.oneTimeTokens(r.userId)], [...(r.purposes ?? [])])).code
  }

  async markDpopProofUsed(r: MarkDpopProofUsedRequest): Promise<boolean> {
    const key = this.#keys.dpopProof(r.proofKey)
    try {
      // SET NX is atomic on its own; PX uses Redis's clock, so instances with different clocks expire it alike.
      return (await traceCommand('SET dpop-proof', 'SET', null, () => this.#connection.send(['SET', key, '1', 'NX', 'PX', String(r.ttlMs)], { key }))) !== null
    } catch (err) {
      throw unavailable(err, 'session store is unavailable')
    }
  }

  /** One XREAD of the revocation log (see {@link RevocationLogStorage.read}). */
  readRevocations(after: string | null, options: { count?: number; blockMs?: number; checkGap?: boolean } = {}): Promise<RevocationLogRead> {
    return this.#log.read(after, options)
  }

  appendHeartbeat(r: AppendHeartbeatRequest): Promise<void> {
    return this.#log.appendHeartbeat(r.heartbeat, r.retentionMs)
  }

  revocationLogInfo(): Promise<RevocationLogInfo> {
    return this.#log.info()
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
    await this.#log.close()
    await this.#replication?.close()
    if (this.#ownsConnection) await this.#connection.close()
  }
}
