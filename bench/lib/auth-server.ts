// Starts bench/servers/auth-server.ts pinned to the server core, against a
// given Redis, and hands the load generator tokens without argon2.
import { fileURLToPath } from 'node:url'
import { startNodeChild, SERVER_CORE, type BenchChild } from './processes.js'

/** PostgreSQL for the users table (own schema per run, dropped at stop). */
export const BENCH_DATABASE_URL = process.env.TESSERA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** The URL the proofs for DPoP-bound bench sessions name (POST); no request goes there. */
export const BENCH_DPOP_SIGN_IN_URL = 'https://auth.bench/auth/login'

/** The RFC 7662 client the server accepts, for a gateway that introspects every request. */
export const BENCH_INTROSPECTION_CLIENT = { id: 'bench-gateway', secret: 'bench-gateway-introspection-secret' } as const

/** Password of every user the server creates at start. */
export const BENCH_PASSWORD = 'correct horse battery staple'

/** A running auth server process. */
export interface AuthServer {
  url: string
  pid: number
  /** Emails of the users created at start (password BENCH_PASSWORD). */
  emails: string[]
  /**
   * Creates `count` sessions of users `<userPrefix>0..` and returns their tokens;
   * with `dpopProofs` (one per session, for POST {@link BENCH_DPOP_SIGN_IN_URL}) each is bound to its proof's key.
   */
  createSessions(count: number, userPrefix: string, dpopProofs?: readonly string[]): Promise<{ access_token: string; refresh_token: string }[]>
  stop(): Promise<void>
}

/**
 * @example
 * ```ts
 * const server = await startAuthServer({ redisUrl: redis.url })
 * try { await runLoad({ url: server.url + '/bench/protected', ... }) } finally { await server.stop() }
 * ```
 */
export async function startAuthServer(options: { redisUrl: string; users?: number; nodeArgs?: string[]; env?: NodeJS.ProcessEnv }): Promise<AuthServer> {
  const child: BenchChild = await startNodeChild(
    fileURLToPath(new URL('../servers/auth-server.ts', import.meta.url)),
    ['--redis', options.redisUrl, '--database', BENCH_DATABASE_URL, '--users', String(options.users ?? 0)],
    { core: SERVER_CORE, timeoutMs: 60_000, nodeArgs: options.nodeArgs ?? [], env: { ...process.env, ...options.env } },
  )
  const url = String(child.ready.url)
  return {
    url,
    pid: child.pid,
    emails: child.ready.emails as string[],
    async createSessions(count, userPrefix, dpopProofs) {
      const tokens: { access_token: string; refresh_token: string }[] = []
      // Chunks keep each request short and under the body limit of the reply (and, with proofs, of the request).
      const chunk = dpopProofs ? 10 : 500
      for (let done = 0; done < count; done += chunk) {
        const body = JSON.stringify({ count: Math.min(chunk, count - done), user_prefix: `${userPrefix}${done}-`, ...(dpopProofs ? { dpop_proofs: dpopProofs.slice(done, done + chunk) } : {}) })
        // A 503 is the server failing closed when Redis answers slower than its deadline (the smoke runs inside a
        // busy `npm test`; seen at load 28): like any client, wait as Retry-After says and resend, a few times.
        // Not with DPoP proofs: one used by the chunk that failed half-way would be refused as a replay.
        let res: Response
        for (let attempt = 1; ; attempt++) {
          res = await fetch(`${url}/bench/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(60_000) })
          if (res.status !== 503 || dpopProofs || attempt === 5) break
          await res.arrayBuffer()
          await new Promise((resolve) => setTimeout(resolve, Number(res.headers.get('retry-after') ?? '1') * 1000))
        }
        if (!res.ok) throw new Error(`POST /bench/sessions: ${res.status}`)
        tokens.push(...((await res.json()) as typeof tokens))
      }
      return tokens
    },
    stop: () => child.stop(),
  }
}
