import { availableParallelism } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { type RedisDurability, redisOptionsFromEnv, type RedisTopologyOptions } from '@tessera/redis'
import { resolveWebhookEndpoints, type WebhookEndpoint } from './webhooks/endpoints.js'
import type { SecurityMailOptions } from './webhooks/security-mail.js'

/** The server's settings, read from the environment once at start. */
export interface ServerConfig {
  port: number
  host: string
  redisUrl: string | null
  /** Standalone, Sentinel or Cluster, with ACL and TLS (REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES, ...); null: memory store. */
  redis: RedisTopologyOptions | null
  /** Revocations wait for this many replicas (TESSERA_REDIS_WAIT_REPLICAS); null: no WAIT. */
  redisDurability: RedisDurability | null
  redisKeyPrefix: string
  databaseUrl: string | null
  /** PostgreSQL schema of the user tables (TESSERA_DATABASE_SCHEMA); null: the connection's search_path (`public`). */
  databaseSchema: string | null
  dataDir: string
  issuer: string
  audience: string
  accessTokenTtlSeconds: number
  refreshIdleTtlSeconds: number
  refreshAbsoluteTtlSeconds: number
  maxSessions: number
  adminToken: string | null
  clients: Map<string, string>
  smtpUrl: string | null
  mailFrom: string
  mailOutboxDir: string
  publicUrl: string
  cookieSecure: boolean
  trustProxy: boolean
  signingKeysJson: string | null
  tokenKey: string | null
  logLevel: string
  loginRateLimitPerIp: number
  loginRateLimitPerAccount: number
  /** Child processes that hash passwords at low CPU priority (TESSERA_HASHING_PROCESSES). */
  hashingProcesses: number
  /** Password checks that may wait for a hashing process; more get 503 (TESSERA_HASHING_QUEUE). */
  hashingQueue: number
  /** TESSERA_WEBHOOKS: JSON list of { id, url, secret, events? }. */
  webhooks: WebhookEndpoint[]
  /** TESSERA_WEBHOOK_MAX_ATTEMPTS, TESSERA_WEBHOOK_TIMEOUT_MS. */
  webhookMaxAttempts: number
  webhookTimeoutMs: number
  /** TESSERA_SECURITY_MAIL: comma list of new-device, password-changed. */
  securityMail: SecurityMailOptions
}

/** A bad setting: main prints the message and exits with code 1. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

type Env = Record<string, string | undefined>

function value(env: Env, name: string): string | undefined {
  const v = env[name]
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}

/** TESSERA_DATABASE_SCHEMA: a plain lower-case SQL identifier (it is put into search_path, never quoted). */
function databaseSchema(env: Env): string | null {
  const schema = value(env, 'TESSERA_DATABASE_SCHEMA')
  if (schema === undefined) return null
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new ConfigError(`TESSERA_DATABASE_SCHEMA must be a lower-case SQL identifier (letters, digits, _; got "${schema.slice(0, 40)}")`)
  return schema
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = value(env, name)
  if (text === undefined) return fallback
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${text.slice(0, 40)}")`)
  return Number(text)
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const text = value(env, name)
  if (text === undefined) return null
  let parsed: URL
  try {
    parsed = new URL(text)
  } catch {
    throw new ConfigError(`${name} is not a valid URL`)
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`)
  return text
}

function boolean(env: Env, name: string): boolean {
  const text = value(env, name)
  if (text === undefined) return false
  if (['true', '1', 'yes'].includes(text.toLowerCase())) return true
  if (['false', '0', 'no'].includes(text.toLowerCase())) return false
  throw new ConfigError(`${name} must be true or false`)
}

function clients(env: Env): Map<string, string> {
  const text = value(env, 'TESSERA_CLIENTS')
  const map = new Map<string, string>()
  if (text === undefined) return map
  for (const pair of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const colon = pair.indexOf(':')
    const id = pair.slice(0, colon)
    const secret = pair.slice(colon + 1)
    if (colon < 1 || !/^[A-Za-z0-9._~-]{1,100}$/.test(id)) throw new ConfigError('TESSERA_CLIENTS must be comma-separated id:secret pairs (id of letters, digits, . _ ~ -)')
    if (secret.length < 16) throw new ConfigError(`TESSERA_CLIENTS: the secret of client "${id}" must be at least 16 characters`)
    map.set(id, secret)
  }
  return map
}

function webhooks(env: Env): WebhookEndpoint[] {
  const text = value(env, 'TESSERA_WEBHOOKS')
  if (text === undefined) return []
  try {
    return resolveWebhookEndpoints(JSON.parse(text))
  } catch (err) {
    throw new ConfigError(`TESSERA_WEBHOOKS: ${(err as Error).message}`)
  }
}

function securityMail(env: Env): SecurityMailOptions {
  const words = (value(env, 'TESSERA_SECURITY_MAIL') ?? '').split(',').map((w) => w.trim()).filter(Boolean)
  for (const word of words) if (word !== 'new-device' && word !== 'password-changed') throw new ConfigError('TESSERA_SECURITY_MAIL must list new-device and/or password-changed')
  return { newDevice: words.includes('new-device'), passwordChanged: words.includes('password-changed') }
}

/**
 * Reads and validates the environment. Throws {@link ConfigError} naming the
 * first bad variable.
 *
 * @example
 * ```ts
 * const config = loadConfig(process.env)
 * ```
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): ServerConfig {
  const port = integer(env, 'PORT', 3000, 0, 65535)
  const host = value(env, 'HOST') ?? '127.0.0.1'
  const dataDirText = value(env, 'TESSERA_DATA_DIR') ?? '.tessera'
  const dataDir = isAbsolute(dataDirText) ? dataDirText : resolve(cwd, dataDirText)
  const accessTokenTtlSeconds = integer(env, 'ACCESS_TOKEN_TTL', 900, 1, 24 * 3600)
  const refreshAbsoluteTtlSeconds = integer(env, 'REFRESH_ABSOLUTE_TTL', 30 * 24 * 3600, 60, 10 * 365 * 24 * 3600)
  const refreshIdleTtlSeconds = integer(env, 'REFRESH_IDLE_TTL', Math.min(14 * 24 * 3600, refreshAbsoluteTtlSeconds), 60, refreshAbsoluteTtlSeconds)
  const adminToken = value(env, 'TESSERA_ADMIN_TOKEN') ?? null
  if (adminToken !== null && adminToken.length < 24) throw new ConfigError('TESSERA_ADMIN_TOKEN must be at least 24 characters (use e.g. `openssl rand -base64 32`)')
  const tokenKey = value(env, 'TESSERA_TOKEN_KEY') ?? null
  if (tokenKey !== null && Buffer.byteLength(tokenKey) < 32) throw new ConfigError('TESSERA_TOKEN_KEY must be at least 32 bytes')
  const publicUrl = url(env, 'TESSERA_PUBLIC_URL', ['http:', 'https:']) ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  const outbox = value(env, 'TESSERA_MAIL_OUTBOX')
  const logLevel = value(env, 'LOG_LEVEL') ?? 'info'
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) throw new ConfigError('LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent')
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:'])
  let redis: RedisTopologyOptions | null
  try {
    redis = redisOptionsFromEnv(env)
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  const waitReplicas = integer(env, 'TESSERA_REDIS_WAIT_REPLICAS', 0, 0, 100)
  const redisDurability = waitReplicas > 0 ? { replicas: waitReplicas, timeoutMs: integer(env, 'TESSERA_REDIS_WAIT_TIMEOUT_MS', 500, 1, 60_000) } : null
  return {
    port,
    host,
    redisUrl,
    redis,
    redisDurability,
    redisKeyPrefix: value(env, 'TESSERA_REDIS_PREFIX') ?? 'tessera:',
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    databaseSchema: databaseSchema(env),
    dataDir,
    issuer: value(env, 'TESSERA_ISSUER') ?? publicUrl,
    audience: value(env, 'TESSERA_AUDIENCE') ?? 'tessera',
    accessTokenTtlSeconds,
    refreshIdleTtlSeconds,
    refreshAbsoluteTtlSeconds,
    maxSessions: integer(env, 'TESSERA_MAX_SESSIONS', 10, 1, 60),
    adminToken,
    clients: clients(env),
    smtpUrl: url(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    mailFrom: value(env, 'TESSERA_MAIL_FROM') ?? 'Tessera <no-reply@localhost>',
    mailOutboxDir: outbox ? resolve(cwd, outbox) : join(dataDir, 'outbox'),
    publicUrl: publicUrl.replace(/\/+$/, ''),
    cookieSecure: boolean(env, 'TESSERA_COOKIE_SECURE'),
    trustProxy: boolean(env, 'TESSERA_TRUST_PROXY'),
    signingKeysJson: value(env, 'TESSERA_SIGNING_KEYS') ?? null,
    tokenKey,
    logLevel,
    loginRateLimitPerIp: integer(env, 'TESSERA_LOGIN_RATE_LIMIT_IP', 30, 1, 100_000),
    loginRateLimitPerAccount: integer(env, 'TESSERA_LOGIN_RATE_LIMIT_ACCOUNT', 5, 1, 10_000),
    hashingProcesses: integer(env, 'TESSERA_HASHING_PROCESSES', availableParallelism(), 1, 64),
    hashingQueue: integer(env, 'TESSERA_HASHING_QUEUE', 256, 0, 100_000),
    webhooks: webhooks(env),
    webhookMaxAttempts: integer(env, 'TESSERA_WEBHOOK_MAX_ATTEMPTS', 12, 1, 30),
    webhookTimeoutMs: integer(env, 'TESSERA_WEBHOOK_TIMEOUT_MS', 10_000, 100, 50_000),
    securityMail: securityMail(env),
  }
}
