// The runnable examples, run: each starts as its comment says, walks through sign-in, a call and a revocation
// (200, then 401), then keeps serving (PORT=0); a protected route answers 200 with the token it offers and 401
// without one. Each is stopped by its PID.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { owned } from '../support/owned-process.js'
import { waitFor } from '../support/redis.js'

const ROOT = join(import.meta.dirname, '..', '..')

/** Starts an example; resolves once it serves, with its output so far, the route it offers and the token for it. */
async function start(file: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--conditions=tessera-source', '--import', 'tsx', file], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const example = owned(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  const serving = () => /serving until SIGTERM/.test(stdout)
  try {
    await waitFor(() => child.exitCode !== null || serving(), 90_000, 50)
  } finally {
    if (!serving()) await example.stop()
  }
  if (!serving()) throw new Error(`${file} did not start serving (exit code ${child.exitCode}):\n${stdout}\n${stderr}`)
  const [, token, url] = /Bearer ([\w.-]+)' (http:\/\/\S+)/.exec(stdout)!
  return { example, stdout, stderr: () => stderr, url: url!, token: token! }
}

async function checkProtectedRoute(url: string, token: string): Promise<void> {
  const allowed = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
  assert.equal(allowed.status, 200)
  assert.equal(((await allowed.json()) as { userId: string }).userId, 'bob')
  const refused = await fetch(url)
  assert.equal(refused.status, 401)
  assert.match(refused.headers.get('www-authenticate') ?? '', /^Bearer/)
}

void test('examples/hono.ts runs: 200 then 401 after the revocation, and its protected route answers 200 with a token, 401 without', async (t) => {
  const { example, stdout, url, token, stderr } = await start('examples/hono.ts')
  t.after(() => example.stop())
  assert.match(stdout, /GET \/api\/orders -> 200 .*\nGET \/api\/orders -> 401 /)
  await checkProtectedRoute(url, token)
  await example.stop()
  assert.equal(example.process.exitCode, 0, stderr())
})

void test('examples/nest/main.ts runs: 200, public and optional routes, 401 after the revocation; its protected route answers 200 with a token, 401 without', async (t) => {
  const { example, stdout, url, token, stderr } = await start('examples/nest/main.ts', { TSX_TSCONFIG_PATH: 'examples/nest/tsconfig.json' })
  t.after(() => example.stop())
  assert.match(stdout, /GET \/orders -> 200 /)
  assert.match(stdout, /GET \/catalogue -> 200 \{"personalisedFor":null\}/)
  assert.match(stdout, /GET \/health -> 200 ok/)
  assert.match(stdout, /GET \/orders after revoke -> 401 /)
  await checkProtectedRoute(url, token)
  await example.stop()
  assert.equal(example.process.exitCode, 0, stderr())
})
