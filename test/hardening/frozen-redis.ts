// A Redis frozen with SIGSTOP (alive, socket open, never answering): how long
// each face of the server takes to answer 503. Used by the frozen-Redis test
// (loose bound) and by bench/frozen-redis.ts (the measured distribution).
import { startPrivateRedis, type PrivateRedis } from '../support/redis.js'
import { bearer, createDeployment, registerAndLogin, startInstance, type Deployment, type HardeningServer } from './harness.js'

/** The faces measured: a protected route, /auth/me, refresh, login and readiness. */
export const FROZEN_FACES = ['protected', 'me', 'refresh', 'login', 'readyz'] as const
export type FrozenFace = (typeof FROZEN_FACES)[number]

export interface FrozenSample {
  face: FrozenFace
  status: number
  /** From sending the request to its answer, ms (performance.now). */
  elapsedMs: number
}

export interface FrozenRig {
  /** The server's command time limit (commandTimeoutMs). */
  limitMs: number
  /** One request per face, all at once, while Redis is frozen. */
  round(): Promise<FrozenSample[]>
  freeze(): void
  thaw(): void
  /** Every face answers as it should again (a fresh login for refresh). */
  healthy(): Promise<Record<FrozenFace, number>>
  close(): Promise<void>
}

/** Starts a private Redis and one server instance on it with the product's default 1 s limit (or `limitMs`). */
export async function startFrozenRig(limitMs = 1000): Promise<FrozenRig> {
  const redis: PrivateRedis = await startPrivateRedis()
  let frozen = false
  const closers: (() => Promise<void>)[] = [
    async () => {
      // Never leave a stopped process behind: it would not even answer SIGTERM.
      if (frozen) process.kill(redis.pid, 'SIGCONT')
      await redis.stop('SIGKILL')
    },
  ]
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch(() => {})
  }
  try {
    const deployment: Deployment = await createDeployment({ redisUrl: redis.url })
    closers.push(() => deployment.drop())
    const server: HardeningServer = await startInstance(deployment, { commandTimeoutMs: limitMs })
    closers.push(() => server.close())
    const user = await registerAndLogin(server.app)
    const access = user.tokens.access_token
    let refreshToken = user.tokens.refresh_token
    const app = server.app
    const faces: Record<FrozenFace, () => Promise<number>> = {
      protected: async () => (await app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(access) })).statusCode,
      me: async () => (await app.inject({ method: 'GET', url: '/auth/me', headers: bearer(access) })).statusCode,
      refresh: async () => {
        const res = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: refreshToken } })
        if (res.statusCode === 200) refreshToken = res.json<{ refresh_token: string }>().refresh_token
        return res.statusCode
      },
      login: async () => (await app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password: user.password } })).statusCode,
      readyz: async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode,
    }
    return {
      limitMs,
      async round() {
        return Promise.all(
          FROZEN_FACES.map(async (face) => {
            const started = performance.now()
            const status = await faces[face]()
            return { face, status, elapsedMs: performance.now() - started }
          }),
        )
      },
      freeze() {
        process.kill(redis.pid, 'SIGSTOP')
        frozen = true
      },
      thaw() {
        process.kill(redis.pid, 'SIGCONT')
        frozen = false
      },
      async healthy() {
        const out = {} as Record<FrozenFace, number>
        for (const face of FROZEN_FACES) out[face] = await faces[face]()
        return out
      },
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}
