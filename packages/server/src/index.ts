// The auth server as a library: build the Fastify app, load its configuration from the
// environment, open what it needs (stores, users, mail), or start it as `tessera serve` does.
export { buildApp, DEFAULT_WEB_DIR, type AppOptions } from './server/app.js'
export { loadConfig, ConfigError, type ServerConfig } from './server/config.js'
export { openResources, appOptions, type ServerResources } from './server/resources.js'
export { startServer, main, type RunningServer } from './server/main.js'
export { DEFAULT_RATE_LIMITS, type RateLimits } from './server/context.js'
export { MemoryRateLimiter, RedisRateLimiter, type RateLimiter, type RateLimitRule, type RateLimitDecision } from './server/rate-limiter.js'
export {
  EmailTaken,
  normaliseEmail,
  hashPassword,
  verifyPassword,
  configurePasswordHashing,
  closePasswordHashing,
  HashingPool,
  HashingOverloaded,
  HashingUnavailable,
  type HashingPoolOptions,
  ARGON2_OPTIONS,
  MIN_PASSWORD_LENGTH,
  MAX_PASSWORD_LENGTH,
  openPostgresUserStore,
  openEmbeddedUserStore,
  type UserRecord,
  type UserStore,
  type PostgresUserStoreOptions,
} from './users/index.js'
export { createMailer, OutboxMailer, SmtpMailer, type MailMessage, type Mailer } from './mail/index.js'
