// Real NGINX for the gateway tests and benchmarks, started on loopback with its
// own files under a temp dir and stopped by its PID; nothing touches a system NGINX.
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { documentedBlock, proxyAnswering, startEdge, type Edge, type TestProxy } from './edge.js'
import { owned } from './owned-process.js'
import { freePort } from './redis.js'

export const NGINX_BIN = process.env.TESSERA_TEST_NGINX ?? '/usr/sbin/nginx'

/** What a test learns from an NGINX it started. */
export interface TestNginx extends TestProxy {
  dir: string
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
  await proxyAnswering('nginx', handle, url, errors)
  return { ...handle, port, url, dir, errors }
}

/** The first ```nginx block of docs/gateway.md, pointed at a test's gateway and upstream (NGINX listens on `LISTEN_PORT`). */
export function documentedNginxConfig(gatewayPort: number, appPort: number): string {
  return documentedBlock('nginx')
    .replace('listen 8000;', 'listen 127.0.0.1:LISTEN_PORT;')
    .replace('server 127.0.0.1:4000;', `server 127.0.0.1:${gatewayPort};`)
    .replace('server 127.0.0.1:8080;', `server 127.0.0.1:${appPort};`)
}

/** The gateway and the Python upstream with NGINX (documented config) in front. */
export type GatewayEdge = Edge<TestNginx>

/** Starts the real `tessera-gateway` with `gatewayEnv`, the Python echo upstream and NGINX with the config of docs/gateway.md in front of both. */
export function startGatewayEdge(gatewayEnv: Record<string, string>): Promise<GatewayEdge> {
  return startEdge(gatewayEnv, (gatewayPort, appPort) => startNginx(documentedNginxConfig(gatewayPort, appPort)))
}
