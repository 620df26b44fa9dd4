// Runs the `tessera` binary as a child process, as an operator would, for the CLI test files.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'

const MAIN = join(import.meta.dirname, '..', 'main.ts')
/** Set TESSERA_CLI_BIN to a built `dist/cli/main.js` to test the compiled binary; by default the source runs through tsx (no build step in the suite). */
const BUILT = process.env.TESSERA_CLI_BIN
const COMMAND = BUILT ? [BUILT] : ['--conditions=tessera-source', '--import', 'tsx', MAIN]

/** What a finished command printed, and its exit code. */
export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** A command still running: what it printed so far, and its end. */
export interface StartedCli {
  child: ChildProcess
  run: Run
  done: Promise<Run>
}

/** Starts `tessera <args>` with only PATH, HOME and `env` in its environment. */
export function startCli(args: string[], env: Record<string, string>): StartedCli {
  const child = spawn(process.execPath, [...COMMAND, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const run: Run = { code: null, stdout: '', stderr: '' }
  child.stdout.setEncoding('utf8').on('data', (d: string) => (run.stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (run.stderr += d))
  // A command that hangs fails its test with what it printed, instead of stalling the suite. Generous: a dozen
  // CLI processes start at once here, each loading TypeScript through tsx, on a machine that may be busy.
  const killer = setTimeout(() => child.kill('SIGKILL'), 240_000).unref()
  const done = new Promise<Run>((resolve) =>
    child.once('close', (code) => {
      clearTimeout(killer)
      resolve({ ...run, code })
    }),
  )
  return { child, run, done }
}

/** Runs `tessera <args>` to its end. */
export function cli(args: string[], env: Record<string, string>): Promise<Run> {
  return startCli(args, env).done
}

/** The end of a started command, or a failure naming what it printed if it has not ended within `timeoutMs`. */
export function waitForExit(started: StartedCli, timeoutMs: number): Promise<Run> {
  return Promise.race([
    started.done,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`tessera did not finish: stdout=${started.run.stdout} stderr=${started.run.stderr}`)), timeoutMs).unref(),
    ),
  ])
}

/** The `{ error: { code, message } }` a command printed on stderr with --json. */
export function jsonError(run: Run): { code: string; message: string } {
  return (JSON.parse(run.stderr) as { error: { code: string; message: string } }).error
}
