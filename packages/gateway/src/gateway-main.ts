import type { FastifyInstance } from 'fastify'
import { SigningKeySet } from '@tessera/core'
import { createVerifier, type Verifier } from '@tessera/verifier'
import { buildGatewayApp } from './gateway-app.js'
import { GatewayConfigError, loadGatewayConfig, type GatewayConfig } from './gateway-config.js'
import { resolveIdentityHeaders } from './identity-headers.js'

/**
 * What every log line of the gateway hides: credentials in headers, and the raw
 * request bytes Node attaches to parser errors (`rawPacket`) should any error
 * carrying them reach a log line.
 */
const GATEWAY_LOG_REDACT: readonly string[] = ['req.headers.authorization', 'req.headers.cookie', 'req.headers.dpop', 'err.rawPacket', 'error.rawPacket']

/** A running gateway and how to stop it. */
export interface RunningGateway {
  app: FastifyInstance
  verifier: Verifier
  url: string
  /** Drains requests, then stops following the log and closes Redis. Idempotent. */
  stop(): Promise<void>
}

/** Said at start when the gateway was given its keys instead of the auth server's JWKS. */
export const FIXED_KEYS_WARNING =
  'TESSERA_SIGNING_KEYS is a fixed key set: this gateway cannot learn a key rotated in later and refuses every token signed with it (401) until restarted with the new set. Use TESSERA_JWKS_URL (the auth server\'s /.well-known/jwks.json), which follows rotations'

/**
 * The cached verifier a gateway configuration describes; it reads the live
 * revocation log (and the issuer's metadata, when configured) before it
 * resolves. An ACCESS_TOKEN_TTL that disagrees with the issuer's advertised
 * lifetime is a {@link GatewayConfigError}. A fixed key set
 * (`TESSERA_SIGNING_KEYS`) is warned about: it cannot follow a rotation.
 */
export async function createGatewayVerifier(config: GatewayConfig, options: { onWarning?: (message: string) => void } = {}): Promise<Verifier> {
  // Not read from the store's key set: it holds only sealed private keys, and public keys taken from Redis would let
  // anyone who can write Redis mint tokens this gateway accepts. The JWKS comes from the auth server itself.
  if ('signingKeysJson' in config.keys) options.onWarning?.(FIXED_KEYS_WARNING)
  const keys = 'jwksUrl' in config.keys ? { jwksUrl: config.keys.jwksUrl } : await SigningKeySet.fromJSON(config.keys.signingKeysJson)
  const verifier = await createVerifier({
    mode: 'cached',
    keys,
    issuer: config.issuer,
    audience: config.audience,
    algorithms: config.algorithms,
    redis: { ...config.redis, keyPrefix: config.redisKeyPrefix },
    clockToleranceSeconds: config.clockToleranceSeconds,
    // No revocationTtlMs: the verifier keeps each revocation as long as the issuer's metadata and heartbeats say its tokens may live.
    ...(config.issuerMetadataUrl ? { issuerMetadataUrl: config.issuerMetadataUrl } : {}),
    onStale: config.onStale,
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  })
  const advertised = verifier.issuerLimits()?.accessTokenTtlSeconds
  if (config.accessTokenTtlSeconds !== null && advertised !== undefined && advertised !== config.accessTokenTtlSeconds) {
    await verifier.close()
    throw new GatewayConfigError(`ACCESS_TOKEN_TTL is ${config.accessTokenTtlSeconds} s but the issuer advertises ${advertised} s; set it to the auth server's value or leave it unset`)
  }
  return verifier
}

/**
 * Opens the verifier, listens, and logs one startup line naming the headers it sets.
 *
 * @example
 * ```ts
 * const gateway = await startGateway(loadGatewayConfig(process.env))
 * process.once('SIGTERM', () => void gateway.stop())
 * ```
 */
export async function startGateway(config: GatewayConfig): Promise<RunningGateway> {
  // Checked before anything is opened, so a bad header name is a configuration error, not a half-started process.
  const headers = resolveIdentityHeaders(config.headers)
  // Why the verifier refuses (no live issuer in the log, settings that disagree): on stderr until the app's logger exists.
  let warn: (message: string) => void = (message) => void process.stderr.write(`tessera gateway: ${message}\n`)
  const verifier = await createGatewayVerifier(config, { onWarning: (message) => warn(message) })
  let app: FastifyInstance
  try {
    app = await buildGatewayApp({
      verifier,
      headers: config.headers,
      realm: config.realm,
      path: config.path,
      processMetrics: true,
      logger: { level: config.logLevel, redact: [...GATEWAY_LOG_REDACT] },
    })
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    await verifier.close()
    throw err
  }
  warn = (message) => app.log.warn(message)
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  app.log.info(`tessera gateway listening on ${url}; forward-auth at ${config.path}; identity headers: ${headers.all.join(', ')}`)
  let stopping: Promise<void> | null = null
  return {
    app,
    verifier,
    url,
    stop() {
      stopping ??= (async () => {
        try {
          await app.close()
        } finally {
          await verifier.close()
        }
      })()
      return stopping
    },
  }
}

/**
 * Entry point of `tessera gateway`: bad configuration prints a clear message
 * and exits 2, a failed start exits 1; SIGTERM and SIGINT shut down gracefully.
 */
export async function gatewayMain(env: Record<string, string | undefined> = process.env): Promise<void> {
  let gateway: RunningGateway
  try {
    gateway = await startGateway(loadGatewayConfig(env))
  } catch (err) {
    const bad = err instanceof GatewayConfigError || err instanceof TypeError
    process.stderr.write(`tessera gateway: ${bad ? 'configuration error' : 'could not start'}: ${(err as Error).message}\n`)
    process.exitCode = bad ? 2 : 1
    return
  }
  const shutdown = (signal: string) => {
    gateway.app.log.info(`${signal} received, shutting down`)
    gateway.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
}
