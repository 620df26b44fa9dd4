// Real Caddy (Debian's package) for the gateway tests, started on loopback with
// its own config, data and storage dirs under a temp dir, the admin endpoint off
// and no automatic HTTPS, and stopped by its PID; nothing touches a system Caddy.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { documentedBlock, proxyAnswering, startEdge, type Edge, type TestProxy } from './edge.js'
import { owned } from './owned-process.js'
import { freePort } from './redis.js'

export const CADDY_BIN = process.env.TESSERA_TEST_CADDY ?? '/usr/bin/caddy'

/** What a test learns from a Caddy it started. */
export interface TestCaddy extends TestProxy {
  dir: string
}

/**
 * Starts `caddy run` with `siteBlocks` under a global block of its own
 * (admin endpoint off, no automatic HTTPS, storage under a temp dir, bound to
 * 127.0.0.1). `LISTEN_PORT` in the blocks is replaced by a free port.
 */
export async function startCaddy(siteBlocks: string): Promise<TestCaddy> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-caddy-'))
  const port = await freePort()
  const caddyfile = join(dir, 'Caddyfile')
  writeFileSync(
    caddyfile,
    `{
	admin off
	auto_https off
	default_bind 127.0.0.1
	grace_period 1s
	storage file_system ${join(dir, 'storage')}
}

${siteBlocks.replaceAll('LISTEN_PORT', String(port))}
`,
  )
  // Caddy writes its autosave and data under $HOME / XDG dirs: keep them in the temp dir too.
  const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data') }
  const child = spawn(CADDY_BIN, ['run', '--config', caddyfile, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()))
  const handle = owned(child, () => rmSync(dir, { recursive: true, force: true }))
  const url = `http://127.0.0.1:${port}`
  await proxyAnswering('caddy', handle, url, () => log)
  return { ...handle, port, url, dir, errors: () => log }
}

/** The first ```caddyfile block of docs/gateway.md, pointed at a test's gateway and upstream (Caddy listens on `LISTEN_PORT`). */
export function documentedCaddyfile(gatewayPort: number, appPort: number): string {
  const block = documentedBlock('caddyfile')
  const replaced = block
    .replace('http://:8000 {', 'http://:LISTEN_PORT {')
    .replace('forward_auth 127.0.0.1:4000 {', `forward_auth 127.0.0.1:${gatewayPort} {`)
    .replace('reverse_proxy 127.0.0.1:8080', `reverse_proxy 127.0.0.1:${appPort}`)
  if ((replaced.match(new RegExp(`LISTEN_PORT|:${gatewayPort} |:${appPort}\\n`, 'g')) ?? []).length !== 3) throw new Error('the caddyfile block of docs/gateway.md no longer has the address, gateway and upstream the test replaces')
  return replaced
}

/** The gateway and the Python upstream with Caddy (documented Caddyfile) in front. */
export type CaddyEdge = Edge<TestCaddy>

/** Starts the real `tessera-gateway` with `gatewayEnv`, the Python echo upstream and Caddy with the Caddyfile of docs/gateway.md in front of both. */
export function startCaddyEdge(gatewayEnv: Record<string, string>): Promise<CaddyEdge> {
  return startEdge(gatewayEnv, (gatewayPort, appPort) => startCaddy(documentedCaddyfile(gatewayPort, appPort)))
}
