// Fills a Redis with many live sessions quickly: real Tessera sessions written
// at the store level (no token signing), or the seed design's string keys.
import { randomBytes } from 'node:crypto'
import { createClient } from 'redis'
import { encodeDeviceMetadata, newLocalSessionId, normaliseDevice } from '@tessera/core'
import type { RedisSessionStore } from '@tessera/redis'
import type { KeyNames } from '../../packages/redis/src/key-names.js'

/** A typical desktop user agent: 111 characters, as the issue asks (~110). */
export const TYPICAL_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

export type RedisClient = ReturnType<typeof createClient>

/** In flight at once while filling: enough to fill the pipe, small enough to bound memory. */
const BATCH = 1000

/**
 * Creates `count` live sessions of users `<userPrefix><n>` (`perUser` each),
 * with device metadata, through the store's own createSession script.
 *
 * @example
 * ```ts
 * await fillSessions(store, { count: 100_000, perUser: 1, userPrefix: 'filler' })
 * ```
 */
export async function fillSessions(store: RedisSessionStore, options: { count: number; perUser: number; userPrefix: string; firstUser?: number }): Promise<void> {
  const nowMs = Date.now()
  const metadata = encodeDeviceMetadata(normaliseDevice({ userAgent: TYPICAL_UA, ip: '203.0.113.42', name: 'Chrome on Windows' }))
  const refreshSecretHash = randomBytes(16)
  const firstUser = options.firstUser ?? 0
  let batch: Promise<unknown>[] = []
  for (let i = 0; i < options.count; i++) {
    batch.push(
      store.createSession({
        userId: `${options.userPrefix}${firstUser + Math.floor(i / options.perUser)}`,
        // Distinct creation ms per session keeps local ids unique without randomness.
        localId: newLocalSessionId(nowMs - options.count + i),
        nowMs,
        idleExpiresAtMs: nowMs + 14 * 86_400_000,
        absoluteExpiresAtMs: nowMs + 30 * 86_400_000,
        refreshSecretHash,
        dpopBound: false,
        deviceClass: 'desktop',
        metadata,
        limits: { maxSessions: 100, policy: 'evict-oldest', perDeviceClass: {} },
        revocationTtlMs: 900_000,
      }),
    )
    if (batch.length === BATCH) {
      await Promise.all(batch)
      batch = []
    }
  }
  await Promise.all(batch)
}

// Clones one user's hash to many users inside Redis: the copies are real
// session records (written by createSession), only far faster to multiply.
const CLONE_SCRIPT = `
local head, tail, user_prefix = ARGV[1], ARGV[2], ARGV[3]
for i = tonumber(ARGV[4]), tonumber(ARGV[5]) - 1 do
  redis.call('COPY', KEYS[1], head .. user_prefix .. i .. tail)
end
return 1`

/**
 * Makes users `<userPrefix><from>` .. `<userPrefix><to - 1>` each hold a copy
 * of `templateUserId`'s sessions (standalone Redis only: the copies' keys are
 * not declared, which Cluster would refuse).
 */
export async function cloneUsers(client: RedisClient, keys: KeyNames, options: { templateUserId: string; userPrefix: string; from: number; to: number }): Promise<void> {
  const [head, tail] = keys.user('\u0000').split('\u0000') as [string, string]
  const chunk = 20_000
  for (let from = options.from; from < options.to; from += chunk) {
    const to = Math.min(options.to, from + chunk)
    await client.eval(CLONE_SCRIPT, { keys: [keys.user(options.templateUserId)], arguments: [head, tail, options.userPrefix, String(from), String(to)] })
  }
}

const SEED_FILL_SCRIPT = `
for i = tonumber(ARGV[2]), tonumber(ARGV[3]) - 1 do
  redis.call('SET', 'whitelist:user:' .. ARGV[1] .. math.floor(i / tonumber(ARGV[4])) .. ':jti:' .. string.format('%x', i * 2654435761 % 4294967296) .. i, '1', 'EX', 2592000)
end
return 1`

/**
 * Writes seed-design keys for sessions \`from\` .. \`to - 1\` (\`perUser\` per
 * user) inside Redis, so a million of them take seconds.
 */
export async function fillSeedKeysFast(client: RedisClient, options: { userPrefix: string; from: number; to: number; perUser: number }): Promise<void> {
  const chunk = 20_000
  for (let from = options.from; from < options.to; from += chunk) {
    const to = Math.min(options.to, from + chunk)
    await client.eval(SEED_FILL_SCRIPT, { keys: [], arguments: [options.userPrefix, String(from), String(to), String(options.perUser)] })
  }
}

/** The seed design's allowlist key of one token. */
export function seedKey(userId: string, tokenId: string): string {
  return `whitelist:user:${userId}:jti:${tokenId}`
}

/**
 * Writes `count` seed-design keys `whitelist:user:{uid}:jti:{jti}` (one per
 * session, `perUser` per user) with a TTL, as the source article does.
 */
export async function fillSeedKeys(client: RedisClient, options: { count: number; perUser: number; userPrefix: string }): Promise<void> {
  let batch: Promise<unknown>[] = []
  for (let i = 0; i < options.count; i++) {
    batch.push(client.set(seedKey(`${options.userPrefix}${Math.floor(i / options.perUser)}`, `${i.toString(36)}${randomBytes(6).toString('hex')}`), '1', { EX: 30 * 86_400 }))
    if (batch.length === BATCH) {
      await Promise.all(batch)
      batch = []
    }
  }
  await Promise.all(batch)
}

/** The seed design's revoke-all: SCAN MATCH the user's keys, then DEL them. Returns how many it deleted. */
export async function seedRevokeAll(client: RedisClient, userId: string): Promise<number> {
  let deleted = 0
  for await (const keys of client.scanIterator({ MATCH: `whitelist:user:${userId}:jti:*`, COUNT: 1000 })) {
    if (keys.length > 0) deleted += await client.del(keys)
  }
  return deleted
}

/** Redis `used_memory` in bytes. */
export async function usedMemory(client: RedisClient): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1])
}
