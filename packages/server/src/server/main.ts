import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { buildApp, LOG_REDACT } from './app.js'
import { ConfigError, loadConfig } from './config.js'
import { appOptions, openResources } from './resources.js'

/**
 * The listener of TESSERA_METRICS_LISTEN: GET /metrics and nothing else, for a
 * Prometheus on a private address. The main port then need not expose them.
 */
async function listenForMetrics(app: FastifyInstance, host: string, port: number, token: string | null): Promise<Server> {
  const digest = (text: string) => createHash('sha256').update(text).digest()
  const expected = token === null ? null : digest(`Bearer ${token}`)
  const server = createServer((request, response) => {
    void (async () => {
      // Digests first: a constant-time comparison whatever the lengths.
      const authorized = expected === null || timingSafeEqual(digest(String(request.headers.authorization ?? '')), expected)
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') response.writeHead(404).end()
      else if (!authorized) response.writeHead(401, { 'www-authenticate': 'Bearer' }).end()
      else response.writeHead(200, { 'content-type': app.metricsRegistry.contentType }).end(await app.metricsRegistry.metrics())
    })().catch(() => response.writeHead(500).end())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  return server
}

/** A running server and how to stop it. */
export interface RunningServer {
  app: FastifyInstance
  url: string
  /** URL of the TESSERA_METRICS_LISTEN listener; null when there is none. */
  metricsUrl: string | null
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
  let metricsServer: Server | null = null
  if (config.metricsListen) {
    try {
      metricsServer = await listenForMetrics(app, config.metricsListen.host, config.metricsListen.port, config.metricsToken)
    } catch (err) {
      await app.close()
      await resources.close()
      throw err
    }
  }
  const metricsAddress = metricsServer?.address() as AddressInfo | undefined
  const metricsUrl = metricsAddress ? `http://${metricsAddress.family === 'IPv6' ? `[${metricsAddress.address}]` : metricsAddress.address}:${metricsAddress.port}/metrics` : null
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  app.log.info(`tessera listening on ${url}; ${resources.summary}; metrics: ${metricsUrl ?? (config.metricsToken ? '/metrics with TESSERA_METRICS_TOKEN' : 'off (set TESSERA_METRICS_LISTEN or TESSERA_METRICS_TOKEN)')}`)
  for (const notice of resources.notices) app.log.warn(notice)
  let stopping: Promise<void> | null = null
  return {
    app,
    url,
    metricsUrl,
    stop() {
      stopping ??= (async () => {
        try {
          const metrics = metricsServer
          if (metrics) {
            const closed = new Promise<void>((resolve) => metrics.close(() => resolve()))
            // A scraper's idle keep-alive connection would otherwise hold the shutdown.
            metrics.closeAllConnections()
            await closed
          }
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
