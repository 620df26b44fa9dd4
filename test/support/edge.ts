// What every gateway edge test runs besides the proxy itself: the real
// `tessera-gateway` process, a non-Node upstream (Python's http.server echoing
// what it received), and the proxy configs of docs/gateway.md. Every process is
// started on loopback and stopped by its PID.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Tessera } from '@tessera/core'
import { owned, type OwnedProcess } from './owned-process.js'
import { freePort, waitFor } from './redis.js'

export type { OwnedProcess }

const GATEWAY_DOC = fileURLToPath(new URL('../../docs/gateway.md', import.meta.url))

/**
 * Waits (30 s at most) until the proxy `handle` started answers HTTP at `url`; if it
 * exits or never answers, stops it and throws with its log (`log()`, read then).
 */
export async function proxyAnswering(name: string, handle: OwnedProcess, url: string, log: () => string): Promise<void> {
  try {
    await waitFor(async () => {
      if (handle.process.exitCode !== null) throw new Error('exited')
      await fetch(url, { signal: AbortSignal.timeout(1000) })
      return true
    }, 30_000)
  } catch {
    const text = log()
    await handle.stop()
    throw new Error(`${name} did not start: ${text}`)
  }
}

/** The first fenced block of docs/gateway.md in `language` (```nginx, ```caddyfile). */
export function documentedBlock(language: string): string {
  const match = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(readFileSync(GATEWAY_DOC, 'utf8'))
  if (!match) throw new Error(`docs/gateway.md has no ${language} block`)
  return match[1]!
}


// A few lines of Python, so the upstream is not Node: answers every request
// with what it received (method, path, every header in order, duplicates kept)
// and counts the requests it served; GET /__count (asked directly) reads the count.
const ECHO_UPSTREAM = `
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count = 0
lock = threading.Lock()
class Echo(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def handle_one(self):
        global count
        length = int(self.headers.get('content-length') or 0)
        if length: self.rfile.read(length)
        if self.path == '/__count':
            body = json.dumps({'count': count}).encode()
        else:
            with lock: count += 1
            body = json.dumps({'method': self.command, 'path': self.path, 'headers': [[k.lower(), v] for k, v in self.headers.items()]}).encode()
        self.send_response(200)
        self.send_header('content-type', 'application/json')
        self.send_header('content-length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one
    def log_message(self, *args): pass
server = ThreadingHTTPServer(('127.0.0.1', 0), Echo)
print(server.server_address[1], flush=True)
server.serve_forever()
`

/** What the echo upstream saw. */
export interface Echoed {
  method: string
  path: string
  headers: [string, string][]
}

/** The Python echo upstream: `url`, and `count()` of requests that reached it. */
export interface EchoUpstream extends OwnedProcess {
  port: number
  url: string
  count(): Promise<number>
}

/** Starts the Python echo upstream on a loopback port it picks itself. */
export async function startEchoUpstream(): Promise<EchoUpstream> {
  const child = spawn('python3', ['-c', ECHO_UPSTREAM], { stdio: ['ignore', 'pipe', 'inherit'] })
  const handle = owned(child)
  const lines = createInterface({ input: child.stdout })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('python upstream did not start')), 30_000)
    lines.once('line', (line) => {
      clearTimeout(timer)
      resolve(Number(line))
    })
    child.once('exit', () => reject(new Error('python upstream exited')))
  }).catch(async (err: unknown) => {
    await handle.stop()
    throw err
  })
  lines.close()
  const url = `http://127.0.0.1:${port}`
  return {
    ...handle,
    port,
    url,
    async count() {
      const res = await fetch(`${url}/__count`)
      return (await res.json() as { count: number }).count
    },
  }
}

/** A JWKS endpoint in the test process: `url`, and `stop()`. */
export interface JwksEndpoint {
  url: string
  stop(): Promise<void>
}

/**
 * Serves the public keys of `auth` on loopback, as the auth server's
 * /.well-known/jwks.json does: each request re-reads the fleet's key set in
 * the store first (sharedKeys), so a key rotated in through another engine is
 * there; a store outage serves the keys in hand.
 */
export async function serveJwks(auth: Tessera): Promise<JwksEndpoint> {
  const server = createServer((_request, response) => {
    auth
      .refreshSigningKeys()
      .catch(() => undefined)
      .then(() => {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(auth.keys.publicJwks()))
      })
      // The answer itself failed (a closed socket): nobody is left to tell.
      .catch(() => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** The `tessera-gateway` binary of @tessera/gateway, from source. */
export const GATEWAY_BIN = fileURLToPath(new URL('../../packages/gateway/src/bin.ts', import.meta.url))

/**
 * Runs the real `tessera-gateway` binary (from source, through tsx) with
 * `env`, on a free port, and waits until /healthz answers.
 */
export async function startGatewayProcess(env: Record<string, string>): Promise<OwnedProcess & { port: number; url: string; output(): string }> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--conditions=tessera-source', '--import', 'tsx', GATEWAY_BIN], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env, TESSERA_GATEWAY_PORT: String(port), TESSERA_GATEWAY_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const handle = owned(child)
  const url = `http://127.0.0.1:${port}`
  try {
    await waitFor(async () => {
      // An exited gateway will never answer: end the wait at once (waitFor retries on a throw).
      if (child.exitCode !== null) return true
      return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok
    }, 90_000)
    if (child.exitCode !== null) throw new Error('exited')
  } catch {
    await handle.stop()
    throw new Error(`gateway did not start: ${output}`)
  }
  return { ...handle, port, url, output: () => output }
}

/** A proxy a test started in front of the gateway and the upstream. */
export interface TestProxy extends OwnedProcess {
  port: number
  url: string
  /** Its log so far (for failure messages). */
  errors(): string
}

/** The edge a test talks to: the gateway process, the Python upstream, and a proxy (documented config) in front. */
export interface Edge<P extends TestProxy = TestProxy> {
  gateway: OwnedProcess & { port: number; url: string; output(): string }
  echo: EchoUpstream
  proxy: P
  /** Stops the proxy, the upstream and the gateway (whatever is still running). Idempotent. */
  stop(): Promise<void>
}

/**
 * Starts the real `tessera-gateway` with `gatewayEnv` and the Python echo
 * upstream, then `startProxy` in front of both (given their ports).
 * Whatever started is stopped again when a later part fails.
 */
export async function startEdge<P extends TestProxy>(gatewayEnv: Record<string, string>, startProxy: (gatewayPort: number, appPort: number) => Promise<P>): Promise<Edge<P>> {
  const [gateway, echo] = await Promise.allSettled([startGatewayProcess(gatewayEnv), startEchoUpstream()])
  const stopStarted = async () => {
    if (echo.status === 'fulfilled') await echo.value.stop()
    if (gateway.status === 'fulfilled') await gateway.value.stop()
  }
  if (gateway.status === 'rejected' || echo.status === 'rejected') {
    await stopStarted()
    throw gateway.status === 'rejected' ? gateway.reason : (echo as PromiseRejectedResult).reason
  }
  let proxy: P
  try {
    proxy = await startProxy(gateway.value.port, echo.value.port)
  } catch (err) {
    await stopStarted()
    throw err
  }
  return {
    gateway: gateway.value,
    echo: echo.value,
    proxy,
    async stop() {
      await proxy.stop()
      await stopStarted()
    },
  }
}
