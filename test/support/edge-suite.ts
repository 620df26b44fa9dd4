// One suite for every proxy config docs/gateway.md gives (NGINX, Caddy): the
// real gateway behind the real proxy, in front of a service that is not Node
// (Python's http.server echoing what it received).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { createTessera, type Tessera } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { newDpopKey, proof } from './dpop.js'
import { serveJwks, type Echoed, type EchoUpstream, type Edge, type JwksEndpoint, type OwnedProcess, type TestProxy } from './edge.js'
import { latencySummary, percentile, PROPAGATION_BOUND_MS, PROPAGATION_P99_BOUND_MS } from './edge-latency.js'
import { startPrivateRedis, waitFor, type PrivateRedis } from './redis.js'

const ISSUER = 'https://auth.test'
const AUDIENCE = 'api'
/** Revocations of each kind (session, user, token) whose propagation is timed. */
const PROPAGATION_ROUNDS = 8

function keyIdOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid
}

function headerValues(echoed: Echoed, name: string): string[] {
  return echoed.headers.filter(([k]) => k === name).map(([, v]) => v)
}

/** Every header the upstream saw whose name looks like an identity header, in any spelling, sorted. */
function identityHeaders(echoed: Echoed): [string, string][] {
  return echoed.headers.filter(([k]) => /tessera/i.test(k)).sort(([a], [b]) => a.localeCompare(b))
}

/** How a proxy's documented config differs where the suite looks. */
export interface EdgeSuiteOptions {
  /** Starts the gateway, the upstream and the proxy in front. */
  start(gatewayEnv: Record<string, string>): Promise<Edge>
  /** The path of the proxy's own forward-auth call, as a client could name it in a DPoP proof. */
  authPath: string
  /** What the proxy answers when the gateway cannot be reached. */
  gatewayDownStatus: number
}

/**
 * The behaviour every documented proxy config must show in front of the real
 * gateway and a Python service: identity headers only from the gateway,
 * revocations refused at the edge, DPoP proofs bound to the client's request,
 * and never a pass when the gateway or its store is down.
 */
export function describeEdgeSuite(name: string, options: EdgeSuiteOptions): void {
  describe(name, () => {
    let redis: PrivateRedis
    let store: RedisSessionStore
    let auth: Tessera
    let jwks: JwksEndpoint | undefined
    const keyPrefix = 'gw:'
    const tokenKey = randomBytes(32)
    let gateway: OwnedProcess & { url: string; output(): string }
    let echo: EchoUpstream
    let proxy: TestProxy
    let edge: Edge | undefined
    /** Made, and seen to pass the edge, while everything was up: the store-down test stops Redis before the gateway-down one. */
    let liveToken: string

    async function cleanup(): Promise<void> {
      await edge?.stop()
      await jwks?.stop()
      await auth?.close().catch(() => undefined)
      await store?.close().catch(() => undefined)
      await redis?.stop()
    }

    before(async () => {
      // node:test skips after() when before() fails: stop whatever started here, or the run hangs on its children.
      try {
        redis = await startPrivateRedis()
        store = await RedisSessionStore.connect({ url: redis.url, keyPrefix })
        // The key set is fleet state in the store, as the auth server keeps it with Redis; the gateway follows it
        // through the JWKS, the way docs/gateway.md runs it.
        auth = await createTessera({ store, sharedKeys: true, issuer: ISSUER, audience: AUDIENCE, tokenKey, accessTokenTtlSeconds: 300 })
        jwks = await serveJwks(auth)
        edge = await options.start({
          REDIS_URL: redis.url,
          TESSERA_REDIS_PREFIX: keyPrefix,
          TESSERA_ISSUER: ISSUER,
          TESSERA_AUDIENCE: AUDIENCE,
          TESSERA_JWKS_URL: jwks.url,
          ACCESS_TOKEN_TTL: '300',
        })
        gateway = edge.gateway
        echo = edge.echo
        proxy = edge.proxy
        liveToken = (await auth.createSession({ userId: 'gina' })).accessToken
        const live = await through('/x', { headers: { authorization: `Bearer ${liveToken}` } })
        assert.equal(live.status, 200, `${live.text} ${proxy.errors()}`)
      } catch (err) {
        await cleanup()
        throw err
      }
    })

    after(cleanup)

    async function through(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
      const res = await fetch(proxy.url + path, { ...init, signal: AbortSignal.timeout(10_000) })
      const text = await res.text()
      return { status: res.status, headers: res.headers, text, echoed: res.status === 200 ? (JSON.parse(text) as Echoed) : null }
    }

    test('a live token reaches the upstream with the identity headers the gateway set', async () => {
      const { accessToken, sessionId } = await auth.createSession({ userId: 'alice' })
      const res = await through('/orders/7?expand=items', { method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }, body: '{"qty":1}' })
      assert.equal(res.status, 200, `${res.text} ${proxy.errors()}`)
      assert.equal(res.echoed!.method, 'POST')
      assert.equal(res.echoed!.path, '/orders/7?expand=items')
      assert.deepEqual(headerValues(res.echoed!, 'x-tessera-user'), ['alice'])
      assert.deepEqual(headerValues(res.echoed!, 'x-tessera-session'), [sessionId])
    })

    test('identity headers sent by the client never reach the upstream', async () => {
      const { accessToken, sessionId } = await auth.createSession({ userId: 'bob' })
      // Underscore spellings too: CGI-style apps read X_Tessera_User as X-Tessera-User.
      const spoofed = { 'x-tessera-user': 'root', 'x-tessera-session': 'forged', x_tessera_user: 'root', 'X_Tessera-Session': 'forged', 'x-tessera_user': 'root' }
      const res = await through('/me', { headers: { authorization: `Bearer ${accessToken}`, ...spoofed } })
      assert.equal(res.status, 200, `${res.text} ${proxy.errors()}`)
      assert.deepEqual(identityHeaders(res.echoed!), [['x-tessera-session', sessionId], ['x-tessera-user', 'bob']])

      const before = await echo.count()
      const anonymous = await through('/me', { headers: spoofed })
      assert.equal(anonymous.status, 401)
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer(, DPoP algs="[^"]+")?$/)
      assert.match(anonymous.headers.get('content-type') ?? '', /application\/problem\+json/)
      const forged = await through('/me', { headers: { authorization: 'Bearer e30.e30.e30', ...spoofed } })
      assert.equal(forged.status, 401)
      assert.match(forged.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/)
      assert.equal(await echo.count(), before, 'refused requests must not reach the upstream')
    })

    test('revoked sessions, users and single tokens are refused at the edge within the propagation bound, with a p99 far below it', async (t) => {
      const tookMs: number[] = []
      for (let round = 0; round < PROPAGATION_ROUNDS; round++) {
        const session = await auth.createSession({ userId: `carol-${round}` })
        const other = await auth.createSession({ userId: `dave-${round}` })
        const single = await auth.createSession({ userId: `erin-${round}` })
        const cases: [string, string, () => Promise<unknown>][] = [
          ['session', session.accessToken, () => auth.revokeSession(session.sessionId)],
          ['user', other.accessToken, () => auth.revokeAllSessions(`dave-${round}`)],
          ['token', single.accessToken, () => auth.denyAccessToken(single.accessToken)],
        ]
        for (const [label, token, revoke] of cases) {
          const headers = { authorization: `Bearer ${token}` }
          assert.equal((await through('/x', { headers })).status, 200, label)
          await revoke()
          const revokedAt = performance.now()
          // Polled with a bound: accepted answers may come only before the revocation reached the gateway.
          await waitFor(async () => (await through('/x', { headers })).status === 401, PROPAGATION_BOUND_MS, 2)
          const took = performance.now() - revokedAt
          tookMs.push(took)
          for (let i = 0; i < 5; i++) assert.equal((await through('/x', { headers })).status, 401, `${label}: accepted again after ${took} ms`)
        }
      }
      // Each time runs to the end of the first refused request, so it includes one trip through the proxy.
      t.diagnostic(latencySummary('revocation to refusal at the edge', tookMs))
      assert.ok(percentile(tookMs, 99) <= PROPAGATION_P99_BOUND_MS, latencySummary(`p99 over ${PROPAGATION_P99_BOUND_MS} ms`, tookMs))
    })

    test('a key rotated in through another engine on the store: its tokens pass the edge at once, old-key tokens too, with no gateway restart', async () => {
      const otherStore = await RedisSessionStore.connect({ url: redis.url, keyPrefix })
      const other = await createTessera({ store: otherStore, sharedKeys: true, issuer: ISSUER, audience: AUDIENCE, tokenKey, accessTokenTtlSeconds: 300 })
      try {
        const older = await other.createSession({ userId: 'hana' })
        const { keyId } = await other.rotateSigningKeys()
        const newer = await other.createSession({ userId: 'hana' })
        assert.notEqual(keyIdOf(older.accessToken), keyId)
        assert.equal(keyIdOf(newer.accessToken), keyId)
        const pid = gateway.process.pid
        // The first request with the new kid already passes: the gateway refetches the JWKS before deciding.
        for (const [label, token] of [['new key', newer.accessToken], ['previous key', older.accessToken]] as const) {
          const res = await through('/x', { headers: { authorization: `Bearer ${token}` } })
          assert.equal(res.status, 200, `${label}: ${res.text} ${proxy.errors()}`)
          assert.deepEqual(headerValues(res.echoed!, 'x-tessera-user'), ['hana'])
        }
        assert.equal(gateway.process.pid, pid)
        assert.equal(gateway.process.exitCode, null)
      } finally {
        await other.close()
        await otherStore.close()
      }
    })

    test('a DPoP-bound token passes the edge only with a proof for the request the client made', async () => {
      const key = await newDpopKey()
      const login = await auth.createSession({ userId: 'dpop-edge', dpop: { proof: await proof(key, 'POST', `${ISSUER}/auth/login`), method: 'POST', url: `${ISSUER}/auth/login` } })
      const token = login.accessToken
      const url = `${proxy.url}/orders/7`
      const send = async (dpop: string, method = 'POST') => through('/orders/7?expand=items', { method, headers: { authorization: `DPoP ${token}`, dpop, 'content-type': 'application/json' }, ...(method === 'POST' ? { body: '{}' } : {}) })
      const ok = await send(await proof(key, 'POST', url, { accessToken: token }))
      assert.equal(ok.status, 200, `${ok.text} ${proxy.errors()}`)
      assert.deepEqual(headerValues(ok.echoed!, 'x-tessera-user'), ['dpop-edge'])
      const before = await echo.count()
      for (const [label, dpop, method] of [
        ['another method', await proof(key, 'GET', url, { accessToken: token }), 'POST'],
        ['another path', await proof(key, 'POST', `${proxy.url}/orders/8`, { accessToken: token }), 'POST'],
        ['the forward-auth call', await proof(key, 'GET', `${proxy.url}${options.authPath}`, { accessToken: token }), 'GET'],
      ] as const) {
        const res = await send(dpop, method)
        assert.equal(res.status, 401, label)
        assert.match(res.headers.get('www-authenticate') ?? '', /^DPoP .*error="invalid_dpop_proof"/, label)
      }
      assert.equal(await echo.count(), before, 'refused requests must not reach the upstream')
    })

    test('store down: 503 from the edge, never a pass', async () => {
      const { accessToken } = await auth.createSession({ userId: 'frank' })
      const headers = { authorization: `Bearer ${accessToken}` }
      await redis.stop()
      const seen = new Set<number>()
      await waitFor(async () => {
        const res = await through('/x', { headers })
        seen.add(res.status)
        return res.status === 503
      }, 20_000, 50)
      // Before the gateway gives up on a stale log it may still answer from its set (within log.maxStalenessMs).
      assert.deepEqual([...seen].filter((s) => s !== 200 && s !== 503), [])
      const res = await through('/x', { headers })
      assert.equal(res.status, 503)
      assert.equal(res.headers.get('retry-after'), '1')
      assert.match(res.text, /ERR_STORE_UNAVAILABLE/)
    })

    test('gateway down: 5xx from the edge, never a pass', async () => {
      const before = await echo.count()
      await gateway.stop()
      const res = await through('/x', { headers: { authorization: 'Bearer e30.e30.e30' } })
      assert.equal(res.status, options.gatewayDownStatus)
      const live = await through('/x', { headers: { authorization: `Bearer ${liveToken}` } })
      assert.ok(live.status >= 500, `gateway down must not pass (got ${live.status})`)
      assert.equal(await echo.count(), before)
    })
  })
}
