// Helpers for tests that talk to real Redis. Each test gets its own key prefix,
// so tests share the instance on 6379 without seeing each other.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from 'redis'
import { RedisSessionStore } from '@tessera/redis'

/**
 * The shared Redis every machine here runs; tests never change its config.
 * Its database number (`redis://host:6379/3`) is kept by every client the tests
 * open, proxies included.
 */
export const SHARED_REDIS_URL = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** First segment of every key a test writes, so tests never touch a developer's own keys (`tessera:` is the server's default). */
export const TEST_KEY_PREFIX = process.env.TESSERA_TEST_KEY_PREFIX ?? 'tessera-test:'

/** A key prefix no other test uses, under {@link TEST_KEY_PREFIX}. */
export function uniquePrefix(label = 't'): string {
  return `${TEST_KEY_PREFIX}${label}:${randomUUID().slice(0, 8)}:`
}

/**
 * A Redis store on the shared instance under a fresh prefix; `cleanup` deletes its keys and closes it.
 * `commandTimeoutMs` is for a test whose own process is not what it measures (it drives
 * subprocesses that load the machine): the product's 1 s limit then fires on the test's stalls.
 */
export async function redisStoreForTest(
  label?: string,
  url = SHARED_REDIS_URL,
  options: { commandTimeoutMs?: number } = {},
): Promise<{ store: RedisSessionStore; prefix: string; cleanup(): Promise<void> }> {
  const prefix = uniquePrefix(label)
  const store = await RedisSessionStore.connect({ url, keyPrefix: prefix, ...options })
  return {
    store,
    prefix,
    async cleanup() {
      await store.close()
      await deleteKeys(url, prefix)
    },
  }
}

/** Deletes every key under `prefix` (test clean-up only: SCAN is never used by the product). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  // Bounded: clean-up must not hang a test run when its Redis is down.
  const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 2000 } })
  client.on('error', () => {})
  await client.connect()
  try {
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (batch.length > 0) await client.unlink(batch)
    }
  } finally {
    await client.close()
  }
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** A private redis-server process this test owns: stop it by PID, even on failure. */
export interface PrivateRedis {
  port: number
  url: string
  pid: number
  dir: string
  process: ChildProcess
  stop(signal?: NodeJS.Signals): Promise<void>
}

/** Waits until `check` resolves true, polling every `intervalMs`, or throws after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if (await check()) return
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/** Pings a Redis URL once; true when it answers. */
export async function redisAnswers(url: string): Promise<boolean> {
  const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 500 } })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
    return true
  } catch {
    return false
  } finally {
    if (client.isOpen) client.destroy()
  }
}

/**
 * Starts a redis-server on a free loopback port with `extraArgs`, waits until it
 * answers, and returns a handle that stops it by PID.
 */
export async function startPrivateRedis(extraArgs: string[] = [], options: { port?: number; dir?: string } = {}): Promise<PrivateRedis> {
  const port = options.port ?? (await freePort())
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tessera-redis-'))
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], {
    stdio: 'ignore',
  })
  const url = `redis://127.0.0.1:${port}`
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const handle: PrivateRedis = {
    port,
    url,
    pid: child.pid!,
    dir,
    process: child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal)
        await exited
      }
      if (!options.dir) rmSync(dir, { recursive: true, force: true })
    },
  }
  try {
    await waitFor(() => redisAnswers(url), 10_000)
  } catch (err) {
    await handle.stop('SIGKILL')
    throw err
  }
  return handle
}
