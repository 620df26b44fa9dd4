// Child processes of a benchmark: started pinned to a core, found by PID,
// stopped by PID (never by name), and killed if the benchmark itself dies.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { cpus } from 'node:os'
import { createInterface } from 'node:readline'

/** The core the server under test runs on. */
export const SERVER_CORE = 0
/** The core the load generator (this process) and Redis run on. */
export const LOAD_CORE = 1

let tasksetPath: string | null | undefined

/** Path of `taskset`, or null when it is missing or the machine has one core. */
export function taskset(): string | null {
  if (tasksetPath === undefined) {
    try {
      // cpus(), not availableParallelism(): the latter counts only the cores this process is already pinned to.
      tasksetPath = cpus().length >= 2 ? execFileSync('which', ['taskset'], { encoding: 'utf8' }).trim() || null : null
    } catch {
      tasksetPath = null
    }
  }
  return tasksetPath
}

/** Pins a running process (and its threads) to `core`; returns how, for the report. */
export function pinProcess(pid: number, core: number): string {
  const path = taskset()
  if (!path) return 'not pinned (no taskset or one core)'
  execFileSync(path, ['-a', '-c', '-p', String(core), String(pid)], { stdio: 'ignore' })
  return `taskset -a -c -p ${core} <pid>`
}

/** Pins this process to the load-generator core. */
export function pinSelfToLoadCore(): string {
  return pinProcess(process.pid, LOAD_CORE)
}

const children = new Set<ChildProcess>()
process.once('exit', () => {
  // Last resort when the benchmark throws: never leave a server behind.
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

/**
 * How this process loads the @tessera packages, for the node processes it starts:
 * `['--conditions=tessera-source']` from their src/ (the tests, `--smoke`, `--source`),
 * none from the built dist/, which is what an installed package runs and what
 * `npm run bench` measures.
 */
export const CODE_FLAGS: readonly string[] = process.execArgv.filter((a) => a.startsWith('--conditions='))

/** A child process that announced readiness; stop it by PID. */
export interface BenchChild {
  pid: number
  /** Fields of the `READY {json}` line the child printed (`{ url }` for a `READY <url>` line). */
  ready: Record<string, unknown>
  stop(): Promise<void>
}

/**
 * Starts `node [CODE_FLAGS] --import tsx <script> ...args` pinned to `core`, waits (at most
 * `timeoutMs`) for it to print `READY {json}` on stdout, and returns a handle
 * that stops it by PID (SIGTERM, then SIGKILL after 5 s).
 *
 * @example
 * ```ts
 * const server = await startNodeChild('bench/servers/auth-server.ts', ['--redis', url], { core: SERVER_CORE })
 * try { console.log(server.ready.port) } finally { await server.stop() }
 * ```
 */
export async function startNodeChild(
  script: string,
  args: readonly string[],
  options: { core?: number; timeoutMs?: number; nodeArgs?: readonly string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<BenchChild> {
  const nodeArgv = [...(options.nodeArgs ?? []), ...CODE_FLAGS, '--import', 'tsx', script, ...args]
  const path = options.core === undefined ? null : taskset()
  const child = path
    ? spawn(path, ['-c', String(options.core), process.execPath, ...nodeArgv], { stdio: ['ignore', 'pipe', 'inherit'], env: options.env ?? process.env })
    : spawn(process.execPath, nodeArgv, { stdio: ['ignore', 'pipe', 'inherit'], env: options.env ?? process.env })
  children.add(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    children.delete(child)
  }
  try {
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script} did not print READY within ${options.timeoutMs ?? 30_000} ms`)), options.timeoutMs ?? 30_000)
      const lines = createInterface({ input: child.stdout })
      lines.on('line', (line) => {
        if (line.startsWith('READY ')) {
          clearTimeout(timer)
          // `READY {json}`, or `READY <url>` from the older servers (bench/protected-server.ts).
          const rest = line.slice(6).trim()
          resolve(rest.startsWith('{') ? (JSON.parse(rest) as Record<string, unknown>) : { url: rest })
        } else {
          process.stdout.write(`[${script}] ${line}\n`)
        }
      })
      void exited.then(() => {
        clearTimeout(timer)
        reject(new Error(`${script} exited before it was ready (code ${child.exitCode})`))
      })
    })
    return { pid: child.pid!, ready, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** In a child: announce readiness with fields for the parent, and exit cleanly on SIGTERM after `close`. */
export function announceReady(fields: Record<string, unknown>, close: () => Promise<void>): void {
  process.once('SIGTERM', () => {
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  })
  console.log('READY ' + JSON.stringify(fields))
}
