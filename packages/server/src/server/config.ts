import { isIP } from 'node:net'
import { availableParallelism } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { identityHeadersFromEnv, type IdentityHeaderOptions } from '@tessera/gateway'
import { type RedisDurability, redisOptionsFromEnv, type RedisTopologyOptions } from '@tessera/redis'
import type { TrustProxy } from './client-address.js'
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
  /** TESSERA_REDIS_COMMAND_TIMEOUT_MS: a Redis call unanswered this long fails closed (503). */
  redisCommandTimeoutMs: number
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
  /** TESSERA_TRUST_PROXY: the proxies' addresses/CIDRs; false: none. */
  trustProxy: TrustProxy
  signingKeysJson: string | null
  tokenKey: string | null
  logLevel: string
  /** Refuse clients without DPoP (TESSERA_DPOP_REQUIRED). */
  dpopRequired: boolean
  /** Server nonces for DPoP proofs (TESSERA_DPOP_NONCES), keyed from the token key every instance shares. */
  dpopNonces: boolean
  loginRateLimitPerIp: number
  loginRateLimitPerAccount: number
  /** Child processes that hash passwords at low CPU priority (TESSERA_HASHING_PROCESSES). */
  hashingProcesses: number
  /** Password checks that may wait for a hashing process; more get 503 (TESSERA_HASHING_QUEUE). */
  hashingQueue: number
  /** How hashing yields the CPU: `idle` (SCHED_IDLE, rescued at `hashingNice`) or `nice` (TESSERA_HASHING_PRIORITY). */
  hashingPriority: 'idle' | 'nice'
  /** Nice value of the hashing processes at `nice`, and of the rescue processes at `idle` (TESSERA_HASHING_NICE). */
  hashingNice: number
  /** TESSERA_FORWARD_AUTH=true mounts the gateway's handler at /auth/forward, with the gateway's header settings; null: off. */
  forwardAuth: { headers: IdentityHeaderOptions; realm?: string } | null
  /** TESSERA_WEBHOOKS: JSON list of { id, url, secret, events? }. */
  webhooks: WebhookEndpoint[]
  /** TESSERA_WEBHOOK_MAX_ATTEMPTS, TESSERA_WEBHOOK_TIMEOUT_MS. */
  webhookMaxAttempts: number
  webhookTimeoutMs: number
  /** TESSERA_SECURITY_MAIL: comma list of new-device, password-changed. */
  securityMail: SecurityMailOptions
  /** TESSERA_METRICS_TOKEN: Bearer token that opens /metrics on the main port; null: /metrics is not on the main port. */
  metricsToken: string | null
  /** TESSERA_METRICS_LISTEN (host:port): a listener of its own that serves only /metrics; null: none. */
  metricsListen: { host: string; port: number } | null
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

/**
 * TESSERA_HASHING_PRIORITY: `idle` (default) lets a hash take only CPU nothing else wants, so a login storm never
 * slows signed-in users; on a host shared with other busy processes sign-ins then wait for the rescue at
 * TESSERA_HASHING_NICE, and `nice` (with a lower TESSERA_HASHING_NICE) lets them compete instead.
 */
function hashingPriority(env: Env): 'idle' | 'nice' {
  const text = value(env, 'TESSERA_HASHING_PRIORITY') ?? 'idle'
  if (text !== 'idle' && text !== 'nice') throw new ConfigError(`TESSERA_HASHING_PRIORITY must be idle or nice (got "${text.slice(0, 40)}")`)
  return text
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

const TRUST_PROXY_FORM = "a comma list of your proxies' addresses or CIDRs (e.g. 10.0.0.0/8,fd00::/8, or loopback)"

/** One entry of a proxy list: an address, a CIDR, or one of proxy-addr's names. */
function proxyEntry(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true
  const [address = '', prefix, ...rest] = entry.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  return /^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)
}

/**
 * TESSERA_TRUST_PROXY: the addresses of the proxies whose X-Forwarded-* to
 * follow. `true` is refused: it trusted every hop, so any client could choose
 * its own address and escape every per-address limit. A hop count is refused
 * too: it cannot tell our proxy from a client that reaches the port directly
 * and writes the header itself (Fastify 5 ignores hop counts for that reason).
 */
function trustProxy(env: Env): TrustProxy {
  const text = value(env, 'TESSERA_TRUST_PROXY')
  if (text === undefined || ['false', 'no', '0'].includes(text.toLowerCase())) return false
  if (['true', 'yes', '1'].includes(text.toLowerCase())) {
    throw new ConfigError(`TESSERA_TRUST_PROXY=${text} would trust every X-Forwarded-For hop, so any client could choose its own address; set ${TRUST_PROXY_FORM}`)
  }
  if (/^[0-9]+$/.test(text)) {
    throw new ConfigError(`TESSERA_TRUST_PROXY=${text}: a hop count cannot tell your proxy from a client that connects directly and writes X-Forwarded-For itself; set ${TRUST_PROXY_FORM}`)
  }
  const entries = text.split(',').map((e) => e.trim()).filter(Boolean)
  const bad = entries.find((e) => !proxyEntry(e))
  if (bad !== undefined) throw new ConfigError(`TESSERA_TRUST_PROXY: "${bad.slice(0, 60)}" is not an address or CIDR; set ${TRUST_PROXY_FORM}`)
  return entries
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

/** The gateway's header settings (TESSERA_GATEWAY_*), for the handler mounted in the server. */
function forwardAuth(env: Env): { headers: IdentityHeaderOptions; realm?: string } {
  try {
    return identityHeadersFromEnv(env)
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
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

/** TESSERA_METRICS_LISTEN: `host:port` or `[v6]:port`. */
function metricsListen(env: Env): { host: string; port: number } | null {
  const text = value(env, 'TESSERA_METRICS_LISTEN')
  if (text === undefined) return null
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text)
  const host = match?.[1] ?? match?.[2]
  const port = Number(match?.[3])
  if (!host || !(port >= 0 && port <= 65535) || (match?.[1] !== undefined && isIP(host) !== 6)) {
    throw new ConfigError(`TESSERA_METRICS_LISTEN must be host:port (e.g. 127.0.0.1:9464 or [::1]:9464; got "${text.slice(0, 60)}")`)
  }
  return { host, port }
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
  const metricsToken = value(env, 'TESSERA_METRICS_TOKEN') ?? null
  if (metricsToken !== null && metricsToken.length < 24) throw new ConfigError('TESSERA_METRICS_TOKEN must be at least 24 characters (use e.g. `openssl rand -base64 32`)')
  const waitReplicas = integer(env, 'TESSERA_REDIS_WAIT_REPLICAS', 0, 0, 100)
  const redisDurability = waitReplicas > 0 ? { replicas: waitReplicas, timeoutMs: integer(env, 'TESSERA_REDIS_WAIT_TIMEOUT_MS', 500, 1, 60_000) } : null
  return {
    port,
    host,
    redisUrl,
    redis,
    redisDurability,
    redisKeyPrefix: value(env, 'TESSERA_REDIS_PREFIX') ?? 'tessera:',
    redisCommandTimeoutMs: integer(env, 'TESSERA_REDIS_COMMAND_TIMEOUT_MS', 1000, 50, 60_000),
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
    trustProxy: trustProxy(env),
    signingKeysJson: value(env, 'TESSERA_SIGNING_KEYS') ?? null,
    tokenKey,
    logLevel,
    dpopRequired: boolean(env, 'TESSERA_DPOP_REQUIRED'),
    dpopNonces: boolean(env, 'TESSERA_DPOP_NONCES'),
    loginRateLimitPerIp: integer(env, 'TESSERA_LOGIN_RATE_LIMIT_IP', 30, 1, 100_000),
    loginRateLimitPerAccount: integer(env, 'TESSERA_LOGIN_RATE_LIMIT_ACCOUNT', 5, 1, 10_000),
    hashingProcesses: integer(env, 'TESSERA_HASHING_PROCESSES', availableParallelism(), 1, 64),
    hashingQueue: integer(env, 'TESSERA_HASHING_QUEUE', 256, 0, 100_000),
    hashingPriority: hashingPriority(env),
    hashingNice: integer(env, 'TESSERA_HASHING_NICE', 10, 0, 19),
    forwardAuth: boolean(env, 'TESSERA_FORWARD_AUTH') ? forwardAuth(env) : null,
    webhooks: webhooks(env),
    webhookMaxAttempts: integer(env, 'TESSERA_WEBHOOK_MAX_ATTEMPTS', 12, 1, 30),
    webhookTimeoutMs: integer(env, 'TESSERA_WEBHOOK_TIMEOUT_MS', 10_000, 100, 50_000),
    securityMail: securityMail(env),
    metricsToken,
    metricsListen: metricsListen(env),
  }
}
