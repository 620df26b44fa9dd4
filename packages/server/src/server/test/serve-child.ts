// `tessera serve` as a child process, for the tests that start, stop and kill it.
import { spawn } from 'node:child_process'
import { join } from 'node:path'

const CLI = join(import.meta.dirname, '..', '..', 'cli', 'main.ts')
const REPOSITORY = join(import.meta.dirname, '..', '..', '..', '..', '..')

/**
 * Starts `tessera serve` with exactly this environment (and PATH); `listening` resolves to its URL.
 * `via: 'npm start'` starts it as the README does, so `child` is npm and the server is npm's descendant.
 */
export function serve(env: Record<string, string>, { via = 'node' }: { via?: 'node' | 'npm start' } = {}) {
  const fullEnv = { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env }
  const child =
    via === 'node'
      ? spawn(process.execPath, ['--conditions=tessera-source', '--import', 'tsx', CLI, 'serve'], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('npm', ['start'], { cwd: REPOSITORY, env: { HOME: process.env.HOME ?? '', ...fullEnv }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const watchers: { pattern: RegExp; seen: (atMs: number) => void }[] = []
  const look = () => {
    for (const watcher of [...watchers]) {
      if (!watcher.pattern.test(stdout) && !watcher.pattern.test(stderr)) continue
      watchers.splice(watchers.indexOf(watcher), 1)
      watcher.seen(Date.now())
    }
  }
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString()
    look()
  })
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString()
    look()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      const match = /tessera listening on (http:\/\/[^;]+);/.exec(stdout)
      if (match) resolve(match[1]!)
    })
    void exited.then(() => reject(new Error(`exited early: ${stderr}`)))
  })
  // Tests that expect an early exit never await it.
  listening.catch(() => undefined)
  /** Resolves to the time (epoch ms) output matching `pattern` arrived; rejects if the process exits without it. */
  const sawLine = (pattern: RegExp) =>
    new Promise<number>((resolve, reject) => {
      watchers.push({ pattern, seen: resolve })
      look()
      void exited.then(() => reject(new Error(`exited without ${String(pattern)}: ${stderr}`)))
    })
  return { child, exited, listening, sawLine, output: () => ({ stdout, stderr }) }
}

