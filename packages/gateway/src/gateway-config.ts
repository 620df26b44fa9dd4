import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '@tessera/core'
import { redisOptionsFromEnv, type RedisTopologyOptions } from '@tessera/redis'
import { resolveIdentityHeaders, type IdentityHeaderOptions } from './identity-headers.js'

/** The gateway's settings, read from the environment once at start. */
export interface GatewayConfig {
  port: number
  host: string
  /** Where revocations are followed (REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES, ... as for the server). */
  redis: RedisTopologyOptions
  redisKeyPrefix: string
  issuer: string
  audience: string[]
  algorithms: SigningAlgorithm[]
  /** The auth server's JWKS, or the key set itself (public halves are enough). */
  keys: { jwksUrl: string } | { signingKeysJson: string }
  /**
   * The auth server's ACCESS_TOKEN_TTL when set: checked at start against the
   * lifetime the issuer advertises (metadata, heartbeats); a mismatch is a
   * configuration error. Null: follow the issuer.
   */
  accessTokenTtlSeconds: number | null
  /** The auth server's RFC 8414 metadata, read at start (issuer and limits checked); null when not set. */
  issuerMetadataUrl: string | null
  clockToleranceSeconds: number
  onStale: 'strict' | 'fail'
  headers: IdentityHeaderOptions
  realm: string | undefined
  path: string
  logLevel: string
}

/** A bad setting: the command prints the message and exits with code 2. */
export class GatewayConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'GatewayConfigError'
  }
}

/**
 * Every setting of `tessera gateway`: the environment variable and the
 * command-line flag that sets it (a flag wins). One table, so the CLI and the
 * docs cannot drift from what {@link loadGatewayConfig} reads.
 */
export const GATEWAY_SETTINGS = [
  { env: 'TESSERA_GATEWAY_PORT', flag: '--port <port>', help: 'port to listen on (default 4000)' },
  { env: 'TESSERA_GATEWAY_HOST', flag: '--host <host>', help: 'address to listen on (default 127.0.0.1)' },
  { env: 'REDIS_URL', flag: '--redis-url <url>', help: 'Redis that holds the revocation log (or REDIS_SENTINELS / REDIS_CLUSTER_NODES, as for the server)' },
  { env: 'TESSERA_REDIS_PREFIX', flag: '--redis-prefix <prefix>', help: 'key prefix of the auth server (default tessera:)' },
  { env: 'TESSERA_ISSUER', flag: '--issuer <iss>', help: 'required `iss` (the auth server\'s TESSERA_ISSUER)' },
  { env: 'TESSERA_AUDIENCE', flag: '--audience <aud>', help: 'accepted `aud` values, comma-separated (default tessera)' },
  { env: 'TESSERA_JWKS_URL', flag: '--jwks-url <url>', help: 'the auth server\'s /.well-known/jwks.json' },
  { env: 'TESSERA_SIGNING_KEYS', flag: '--signing-keys <json>', help: 'the key set as JSON, instead of --jwks-url' },
  { env: 'TESSERA_ALGORITHMS', flag: '--algorithms <list>', help: 'accepted `alg` values, comma-separated (default ES256,EdDSA)' },
  { env: 'TESSERA_ISSUER_METADATA_URL', flag: '--issuer-metadata-url <url>', help: 'the auth server\'s /.well-known/oauth-authorization-server: issuer and token limits checked at start' },
  { env: 'ACCESS_TOKEN_TTL', flag: '--access-token-ttl <seconds>', help: 'the auth server\'s access-token lifetime, checked at start against what the issuer advertises (default: follow the issuer)' },
  { env: 'TESSERA_CLOCK_TOLERANCE', flag: '--clock-tolerance <seconds>', help: 'accepted clock skew on exp/nbf (default 0)' },
  { env: 'TESSERA_GATEWAY_ON_STALE', flag: '--on-stale <mode>', help: 'when the revocation log is not current: strict (check Redis per request, default) or fail (503)' },
  { env: 'TESSERA_GATEWAY_USER_HEADER', flag: '--user-header <name>', help: 'header that carries the user id (default X-Tessera-User)' },
  { env: 'TESSERA_GATEWAY_SESSION_HEADER', flag: '--session-header <name>', help: 'header that carries the session id (default X-Tessera-Session)' },
  { env: 'TESSERA_GATEWAY_CLAIM_HEADERS', flag: '--claim-headers <list>', help: 'more claims to pass on, claim=Header pairs, comma-separated (e.g. scope=X-Tessera-Scope)' },
  { env: 'TESSERA_GATEWAY_REALM', flag: '--realm <realm>', help: 'realm of the WWW-Authenticate challenge' },
  { env: 'TESSERA_GATEWAY_PATH', flag: '--path <path>', help: 'path of the forward-auth endpoint (default /forward-auth)' },
  { env: 'LOG_LEVEL', flag: '--log-level <level>', help: 'fatal, error, warn, info (default), debug, trace or silent' },
] as const

type Env = Record<string, string | undefined>

function value(env: Env, name: string): string | undefined {
  const v = env[name]
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = value(env, name)
  if (text === undefined) return fallback
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) throw new GatewayConfigError(`${name} must be an integer from ${min} to ${max} (got "${text.slice(0, 40)}")`)
  return Number(text)
}

function httpUrl(env: Env, name: string): string | null {
  const text = value(env, name)
  if (text === undefined) return null
  let parsed: URL
  try {
    parsed = new URL(text)
  } catch {
    throw new GatewayConfigError(`${name} is not a valid URL`)
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new GatewayConfigError(`${name} must start with https:// or http://`)
  return text
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

function claimHeaders(text: string | undefined): Record<string, string> {
  const claims: Record<string, string> = {}
  if (text === undefined) return claims
  for (const pair of list(text)) {
    const eq = pair.indexOf('=')
    if (eq < 1 || eq === pair.length - 1) throw new GatewayConfigError('TESSERA_GATEWAY_CLAIM_HEADERS must be claim=Header pairs, comma-separated')
    claims[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim()
  }
  return claims
}

/**
 * The identity-header settings (TESSERA_GATEWAY_USER_HEADER, _SESSION_HEADER,
 * _CLAIM_HEADERS, _REALM), checked: shared by `tessera gateway` and the
 * handler mounted in the auth server (TESSERA_FORWARD_AUTH).
 */
export function identityHeadersFromEnv(env: Env): { headers: IdentityHeaderOptions; realm?: string } {
  const headers: IdentityHeaderOptions = { claims: claimHeaders(value(env, 'TESSERA_GATEWAY_CLAIM_HEADERS')) }
  const userHeader = value(env, 'TESSERA_GATEWAY_USER_HEADER')
  const sessionHeader = value(env, 'TESSERA_GATEWAY_SESSION_HEADER')
  if (userHeader) headers.user = userHeader
  if (sessionHeader) headers.session = sessionHeader
  try {
    resolveIdentityHeaders(headers)
  } catch (err) {
    throw new GatewayConfigError(`identity headers (TESSERA_GATEWAY_*): ${(err as Error).message}`)
  }
  const realm = value(env, 'TESSERA_GATEWAY_REALM')
  if (realm !== undefined && !/^[\x20-\x7e]+$/.test(realm)) throw new GatewayConfigError('TESSERA_GATEWAY_REALM must be printable ASCII')
  return realm === undefined ? { headers } : { headers, realm: realm.replace(/["\\]/g, '') }
}

/**
 * Reads and checks the gateway's environment. Throws {@link GatewayConfigError}
 * naming the first bad variable.
 *
 * @example
 * ```ts
 * const config = loadGatewayConfig({ REDIS_URL: 'redis://127.0.0.1:6379', TESSERA_ISSUER: 'https://auth.example',
 *   TESSERA_JWKS_URL: 'https://auth.example/.well-known/jwks.json' })
 * ```
 */
export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  let redis: RedisTopologyOptions | null
  try {
    redis = redisOptionsFromEnv(env)
  } catch (err) {
    throw new GatewayConfigError((err as Error).message)
  }
  if (!redis) throw new GatewayConfigError('REDIS_URL (or REDIS_SENTINELS / REDIS_CLUSTER_NODES) is required: the gateway follows revocations in Redis')
  const issuer = value(env, 'TESSERA_ISSUER')
  if (!issuer) throw new GatewayConfigError('TESSERA_ISSUER is required (the auth server\'s issuer)')
  const jwksUrl = value(env, 'TESSERA_JWKS_URL')
  const signingKeysJson = value(env, 'TESSERA_SIGNING_KEYS')
  if (!jwksUrl === !signingKeysJson) throw new GatewayConfigError('set exactly one of TESSERA_JWKS_URL and TESSERA_SIGNING_KEYS')
  httpUrl(env, 'TESSERA_JWKS_URL')
  const algorithms = list(value(env, 'TESSERA_ALGORITHMS') ?? 'ES256,EdDSA')
  for (const alg of algorithms) {
    if (!SIGNING_ALGORITHMS.includes(alg as SigningAlgorithm)) throw new GatewayConfigError(`TESSERA_ALGORITHMS: "${alg.slice(0, 20)}" is not one of ${SIGNING_ALGORITHMS.join(', ')}`)
  }
  if (algorithms.length === 0) throw new GatewayConfigError('TESSERA_ALGORITHMS must list at least one algorithm')
  const onStale = value(env, 'TESSERA_GATEWAY_ON_STALE') ?? 'strict'
  if (onStale !== 'strict' && onStale !== 'fail') throw new GatewayConfigError('TESSERA_GATEWAY_ON_STALE must be strict or fail')
  const logLevel = value(env, 'LOG_LEVEL') ?? 'info'
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) throw new GatewayConfigError('LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent')
  const audience = list(value(env, 'TESSERA_AUDIENCE') ?? 'tessera')
  if (audience.length === 0) throw new GatewayConfigError('TESSERA_AUDIENCE must name at least one audience')
  const { headers, realm } = identityHeadersFromEnv(env)
  return {
    port: integer(env, 'TESSERA_GATEWAY_PORT', 4000, 0, 65535),
    host: value(env, 'TESSERA_GATEWAY_HOST') ?? '127.0.0.1',
    redis,
    redisKeyPrefix: value(env, 'TESSERA_REDIS_PREFIX') ?? 'tessera:',
    issuer,
    audience,
    algorithms: algorithms as SigningAlgorithm[],
    keys: jwksUrl ? { jwksUrl } : { signingKeysJson: signingKeysJson! },
    accessTokenTtlSeconds: value(env, 'ACCESS_TOKEN_TTL') === undefined ? null : integer(env, 'ACCESS_TOKEN_TTL', 0, 1, 24 * 3600),
    issuerMetadataUrl: httpUrl(env, 'TESSERA_ISSUER_METADATA_URL'),
    clockToleranceSeconds: integer(env, 'TESSERA_CLOCK_TOLERANCE', 0, 0, 300),
    onStale,
    headers,
    realm,
    path: value(env, 'TESSERA_GATEWAY_PATH') ?? '/forward-auth',
    logLevel,
  }
}
