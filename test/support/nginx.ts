// Real NGINX and a non-Node upstream for the gateway tests and benchmarks.
// Every process is started on loopback with its own files under a temp dir
// and stopped by its PID; nothing touches a system NGINX.
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { freePort, waitFor } from './redis.js'

const GATEWAY_DOC = fileURLToPath(new URL('../../docs/gateway.md', import.meta.url))

export const NGINX_BIN = process.env.TESSERA_TEST_NGINX ?? '/usr/sbin/nginx'

/** A process a test owns. */
export interface OwnedProcess {
  pid: number
  process: ChildProcess
  /** SIGTERM (then SIGKILL after 5 s) by PID; resolves once it exited. Idempotent. */
  stop(): Promise<void>
}

function owned(child: ChildProcess, cleanup: () => void = () => {}): OwnedProcess {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
  return {
    pid: child.pid!,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
        await exited
        clearTimeout(timer)
      }
      cleanup()
    },
  }
}

/** What a test learns from an NGINX it started. */
export interface TestNginx extends OwnedProcess {
  port: number
  url: string
  dir: string
  /** The error log so far (for failure messages). */
  errors(): string
}

/**
 * Starts NGINX in the foreground (`daemon off`, its own prefix, pid file,
 * temp paths and error log under a temp dir) with `httpBlock` as the body of
 * its `http {}` block. `LISTEN_PORT` in the block is replaced by a free port.
 */
export async function startNginx(httpBlock: string): Promise<TestNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-nginx-'))
  // Workers run as an unprivileged user when the tests run as root: they must reach the temp paths.
  chmodSync(dir, 0o755)
  const port = await freePort()
  const conf = join(dir, 'nginx.conf')
  const errorLog = join(dir, 'error.log')
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${errorLog} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${httpBlock.replaceAll('LISTEN_PORT', String(port))}
}
`,
  )
  writeFileSync(errorLog, '')
  const child = spawn(NGINX_BIN, ['-p', dir, '-c', conf, '-e', errorLog], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const handle = owned(child, () => rmSync(dir, { recursive: true, force: true }))
  const url = `http://127.0.0.1:${port}`
  const errors = () => {
    try {
      return stderr + readFileSync(errorLog, 'utf8')
    } catch {
      return stderr
    }
  }
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error('exited')
      await fetch(url, { signal: AbortSignal.timeout(1000) })
      return true
    }, 30_000)
  } catch {
    const log = errors()
    await handle.stop()
    throw new Error(`nginx did not start: ${log}`)
  }
  return { ...handle, port, url, dir, errors }
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

/** The first ```nginx block of docs/gateway.md, pointed at a test's gateway and upstream (NGINX listens on `LISTEN_PORT`). */
export function documentedNginxConfig(gatewayPort: number, appPort: number): string {
  const match = /```nginx\n([\s\S]*?)```/.exec(readFileSync(GATEWAY_DOC, 'utf8'))
  if (!match) throw new Error('docs/gateway.md has no nginx block')
  return match[1]!
    .replace('listen 8000;', 'listen 127.0.0.1:LISTEN_PORT;')
    .replace('server 127.0.0.1:4000;', `server 127.0.0.1:${gatewayPort};`)
    .replace('server 127.0.0.1:8080;', `server 127.0.0.1:${appPort};`)
}

/** The edge a test talks to: the gateway process, the Python upstream, and NGINX (documented config) in front. */
export interface GatewayEdge {
  gateway: OwnedProcess & { port: number; url: string; output(): string }
  echo: EchoUpstream
  nginx: TestNginx
  /** Stops NGINX, the upstream and the gateway (whatever is still running). Idempotent. */
  stop(): Promise<void>
}

/**
 * Starts the real `tessera-gateway` with `gatewayEnv`, the Python echo
 * upstream and NGINX with the config of docs/gateway.md in front of both.
 * Whatever started is stopped again when a later part fails.
 */
export async function startGatewayEdge(gatewayEnv: Record<string, string>): Promise<GatewayEdge> {
  const [gateway, echo] = await Promise.allSettled([startGatewayProcess(gatewayEnv), startEchoUpstream()])
  const stopStarted = async () => {
    if (echo.status === 'fulfilled') await echo.value.stop()
    if (gateway.status === 'fulfilled') await gateway.value.stop()
  }
  if (gateway.status === 'rejected' || echo.status === 'rejected') {
    await stopStarted()
    throw gateway.status === 'rejected' ? gateway.reason : (echo as PromiseRejectedResult).reason
  }
  let nginx: TestNginx
  try {
    nginx = await startNginx(documentedNginxConfig(gateway.value.port, echo.value.port))
  } catch (err) {
    await stopStarted()
    throw err
  }
  return {
    gateway: gateway.value,
    echo: echo.value,
    nginx,
    async stop() {
      await nginx.stop()
      await stopStarted()
    },
  }
}
