// The CLI reads exactly the server's configuration (packages/server/src/server/config.ts), so an
// operator's environment means the same thing to `tessera serve` and to the
// admin commands.
import { ConfigError, loadConfig, type ServerConfig } from '../server/config.js'
import type { EngineConfig } from '../server/engine.js'

/** What the admin commands use of the server configuration. */
export type CliConfig = Pick<
  ServerConfig,
  'redisUrl' | 'redis' | 'redisKeyPrefix' | 'databaseUrl' | 'databaseSchema' | 'signingKeysJson' | 'webhooks'
> &
  EngineConfig

export { ConfigError }

/**
 * Reads and checks the environment the way the server does.
 *
 * @example
 * ```ts
 * const config = readCliConfig(process.env)
 * if (!config.redisUrl) throw new Error('this command needs REDIS_URL')
 * ```
 */
export function readCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  return loadConfig(env)
}
