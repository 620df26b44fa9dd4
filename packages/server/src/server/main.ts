import type { FastifyInstance } from 'fastify'
import { buildApp, LOG_REDACT } from './app.js'
import { ConfigError, loadConfig } from './config.js'
import { appOptions, openResources } from './resources.js'

/** A running server and how to stop it. */
export interface RunningServer {
  app: FastifyInstance
  url: string
  /** Drains requests, then closes Redis, the database and the mailer. Idempotent. */
  stop(): Promise<void>
}

/**
 * Reads the environment, opens everything, listens, and logs one startup line
 * naming the store, user database and mailer in use.
 *
 * @example
 * ```ts
 * const server = await startServer(process.env)
 * process.once('SIGTERM', () => void server.stop())
 * ```
 */
export async function startServer(env: Record<string, string | undefined> = process.env): Promise<RunningServer> {
  const config = loadConfig(env)
  // Plain lines on stderr, before the logger exists: what is happening while nothing listens yet, and since when.
  const progress = config.logLevel === 'silent' ? undefined : (step: string) => process.stderr.write(`tessera: [${process.uptime().toFixed(1)} s] ${step} ...\n`)
  const resources = await openResources(config, progress ? { progress } : {})
  progress?.('starting the HTTP server')
  let app: FastifyInstance
  try {
    app = await buildApp({
      ...appOptions(config, resources),
      processMetrics: true,
      logger: {
        level: config.logLevel,
        // Belt and braces: no credential ever reaches a log line.
        redact: [...LOG_REDACT],
      },
    })
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    await resources.close()
    throw err
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  app.log.info(`tessera listening on ${url}; ${resources.summary}`)
  for (const notice of resources.notices) app.log.warn(notice)
  let stopping: Promise<void> | null = null
  return {
    app,
    url,
    stop() {
      stopping ??= (async () => {
        try {
          await app.close()
        } finally {
          await resources.close()
        }
      })()
      return stopping
    },
  }
}

/**
 * Entry point of `npm start` and `tessera serve`: bad configuration prints a
 * clear message and exits 1; SIGTERM and SIGINT shut down gracefully.
 */
export async function main(env: Record<string, string | undefined> = process.env): Promise<void> {
  let server: RunningServer
  try {
    server = await startServer(env)
  } catch (err) {
    const message = err instanceof ConfigError ? `configuration error: ${err.message}` : `could not start: ${(err as Error).message}`
    process.stderr.write(`tessera: ${message}\n`)
    process.exitCode = 1
    return
  }
  const shutdown = (signal: string) => {
    server.app.log.info(`${signal} received, shutting down`)
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        server.app.log.error({ err: { message: (err as Error).message } }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
}
