import type { RedisConnection } from './connection.js'

/**
 * Tessera's Redis must never evict keys. An evicted session hash un-revokes
 * nothing by itself, but an evicted user-state hash (revoke-all cut-off, ban)
 * or denylist entry silently brings revoked tokens back to life. Every Tessera
 * key has a TTL, so the `volatile-*` policies are as unsafe as `allkeys-*`:
 * only `noeviction` is accepted. Under `noeviction` a full Redis refuses writes
 * (sign-in, refresh, revocation fail with `ERR_STORE_UNAVAILABLE`, i.e. 503)
 * while reads keep working: failing closed instead of forgetting.
 */
export const REQUIRED_MAXMEMORY_POLICY = 'noeviction'

/** Where the policy was read from: `CONFIG GET`, or `INFO memory` when an ACL forbids CONFIG. */
export type MemoryPolicySource = 'config' | 'info'

/** The outcome of {@link checkMemoryPolicy}. */
export interface MemoryPolicyReport {
  policy: string
  source: MemoryPolicySource
  ok: boolean
}

/** Thrown by {@link assertMemoryPolicy} when Redis may evict keys, or its policy cannot be read. */
export class UnsafeMemoryPolicy extends Error {
  readonly code = 'ERR_REDIS_EVICTION_POLICY'
  /** The policy Redis reported, or null when it could not be read. */
  readonly policy: string | null

  constructor(policy: string | null, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'UnsafeMemoryPolicy'
    this.policy = policy
  }
}

function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
}

function fromConfigReply(reply: unknown): string | null {
  // RESP2 gives [name, value]; RESP3 gives a map, which node-redis may hand back as an object or a Map.
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) if (text(reply[i]) === 'maxmemory-policy') return text(reply[i + 1])
    return null
  }
  if (reply instanceof Map) {
    const value: unknown = reply.get('maxmemory-policy')
    return value === undefined ? null : text(value)
  }
  if (reply && typeof reply === 'object' && 'maxmemory-policy' in reply) return text((reply as Record<string, unknown>)['maxmemory-policy'])
  return null
}

function fromInfoReply(reply: unknown): string | null {
  const match = /^maxmemory_policy:(\S+)\s*$/m.exec(text(reply))
  return match ? match[1]! : null
}

/**
 * Reads the server's `maxmemory-policy`: `CONFIG GET` first, then `INFO memory`
 * (readable by most restricted ACL users, e.g. `+@connection +info`) when
 * CONFIG is refused. Throws {@link UnsafeMemoryPolicy} when neither answers.
 *
 * @example
 * ```ts
 * const { policy, source } = await readMemoryPolicy(store.connection) // { policy: 'noeviction', source: 'config' }
 * ```
 */
export async function readMemoryPolicy(connection: RedisConnection): Promise<{ policy: string; source: MemoryPolicySource }> {
  let configError: unknown
  try {
    const policy = fromConfigReply(await connection.send(['CONFIG', 'GET', 'maxmemory-policy']))
    if (policy) return { policy, source: 'config' }
  } catch (err) {
    configError = err
  }
  try {
    const policy = fromInfoReply(await connection.send(['INFO', 'memory']))
    if (policy) return { policy, source: 'info' }
  } catch (err) {
    throw new UnsafeMemoryPolicy(null, 'could not read maxmemory-policy from Redis (CONFIG GET and INFO memory both failed)', { cause: configError ?? err })
  }
  throw new UnsafeMemoryPolicy(null, 'Redis reported no maxmemory-policy', { cause: configError })
}

/**
 * Reads the policy and says whether it is the one Tessera requires, without throwing on a wrong one.
 *
 * @example
 * ```ts
 * const report = await checkMemoryPolicy(store.connection)
 * if (!report.ok) log.warn(report, 'Redis may evict revocation state')
 * ```
 */
export async function checkMemoryPolicy(connection: RedisConnection): Promise<MemoryPolicyReport> {
  const { policy, source } = await readMemoryPolicy(connection)
  return { policy, source, ok: policy === REQUIRED_MAXMEMORY_POLICY }
}

/**
 * The start-up check: resolves with the report when Redis runs `noeviction`,
 * throws {@link UnsafeMemoryPolicy} (code `ERR_REDIS_EVICTION_POLICY`) otherwise.
 * On Cluster the connection answers for the node it reaches; run the check
 * against each master when they may be configured differently.
 *
 * @example
 * ```ts
 * const store = await RedisSessionStore.connect({ url })
 * await assertMemoryPolicy(store.connection) // refuse to start on an evicting Redis
 * ```
 */
export async function assertMemoryPolicy(connection: RedisConnection): Promise<MemoryPolicyReport> {
  const report = await checkMemoryPolicy(connection)
  if (!report.ok) {
    throw new UnsafeMemoryPolicy(
      report.policy,
      `Redis maxmemory-policy is "${report.policy}"; Tessera requires "${REQUIRED_MAXMEMORY_POLICY}" because an evicted key would silently un-revoke sessions, bans or denied tokens`,
    )
  }
  return report
}
