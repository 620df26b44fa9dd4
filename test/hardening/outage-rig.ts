import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPrivateRedis, type PrivateRedis } from '../support/redis.js'
import { createVerifier, type Verifier } from '@tessera/verifier'
import { bearer, createDeployment, registerAndLogin, startInstance, type Deployment, type HardeningServer } from './harness.js'
import { verifierStatus, type Probe } from './probes.js'

/**
 * Everything a Redis fault suite needs: a private redis-server with
 * `appendfsync always` (so a SIGKILL loses nothing acknowledged), one server
 * instance, a strict and a cached verifier, and probes for every face:
 * protected route, both verifiers, refresh and login, each with a live token
 * and, where it applies, a revoked one that must never pass.
 */
export interface OutageRig {
  redis: PrivateRedis
  deployment: Deployment
  server: HardeningServer
  strict: Verifier
  cached: Verifier
  /** Faces that must recover; `*-revoked` faces must never answer 200. */
  faces: Record<string, Probe>
  /** SIGKILLs the Redis process. */
  kill(): Promise<void>
  /** Starts Redis again on the same port and data directory; resolves once it answers. */
  restart(): Promise<void>
  close(): Promise<void>
}

/** The cached verifier stops trusting its set this long after the last successful log read. */
export const CACHED_MAX_STALENESS_MS = 750

/** Builds the rig (`redisArgs` are extra redis-server arguments); the caller must `close()` it in `t.after`, even on failure. */
export async function startOutageRig(options: { redisArgs?: string[] } = {}): Promise<OutageRig> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-outage-'))
  const args = ['--appendonly', 'yes', '--appendfsync', 'always', ...(options.redisArgs ?? [])]
  let redis = await startPrivateRedis(args, { dir })
  const port = redis.port
  const closers: (() => Promise<void>)[] = [
    async () => {
      await redis.stop('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    },
  ]
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch(() => {})
  }
  try {
    const deployment = await createDeployment({ redisUrl: redis.url })
    closers.push(() => deployment.drop())
    const server = await startInstance(deployment)
    closers.push(() => server.close())
    const verifierBase = { keys: deployment.keys, issuer: 'https://auth.test', audience: 'api', algorithms: ['ES256' as const] }
    const redisOptions = { url: redis.url, keyPrefix: deployment.keyPrefix, commandTimeoutMs: 500 }
    const strict = await createVerifier({ ...verifierBase, mode: 'strict', redis: redisOptions })
    closers.push(() => strict.close())
    const cached = await createVerifier({ ...verifierBase, mode: 'cached', redis: redisOptions, log: { blockMs: 250, maxStalenessMs: CACHED_MAX_STALENESS_MS, retryMs: 50 } })
    closers.push(() => cached.close())

    // Separate users, so logins (which may evict old sessions at the limit) never touch the sessions probed.
    const holder = await registerAndLogin(server.app)
    const live = holder.tokens.access_token
    const gone = (await server.app.inject({ method: 'POST', url: '/auth/login', payload: { email: holder.email, password: holder.password } })).json<{ access_token: string }>()
    const logout = await server.app.inject({ method: 'POST', url: '/auth/logout', headers: bearer(gone.access_token) })
    if (logout.statusCode !== 204) throw new Error(`logout failed: ${logout.statusCode}`)
    const revoked = gone.access_token
    const refresher = await registerAndLogin(server.app)
    let refreshToken = refresher.tokens.refresh_token
    const loginUser = await registerAndLogin(server.app)

    const app = server.app
    const faces: Record<string, Probe> = {
      'server-me': async () => (await app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(live) })).statusCode,
      'server-me-revoked': async () => (await app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(revoked) })).statusCode,
      'strict-verifier': () => verifierStatus(() => strict.verify(live)),
      'strict-verifier-revoked': () => verifierStatus(() => strict.verify(revoked)),
      'cached-verifier': () => verifierStatus(() => cached.verify(live)),
      'cached-verifier-revoked': () => verifierStatus(() => cached.verify(revoked)),
      refresh: async () => {
        const res = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: refreshToken } })
        if (res.statusCode === 200) refreshToken = res.json<{ refresh_token: string }>().refresh_token
        return res.statusCode
      },
      login: async () => (await app.inject({ method: 'POST', url: '/auth/login', payload: { email: loginUser.email, password: loginUser.password } })).statusCode,
    }
    return {
      get redis() {
        return redis
      },
      deployment,
      server,
      strict,
      cached,
      faces,
      async kill() {
        await redis.stop('SIGKILL')
      },
      async restart() {
        redis = await startPrivateRedis(args, { port, dir })
      },
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}
