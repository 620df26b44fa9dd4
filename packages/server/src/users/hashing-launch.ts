// How a hashing child process is started (hashing-pool.ts): which of the parent's
// Node flags it takes, and the command prefix that puts it under SCHED_IDLE.
import { spawnSync } from 'node:child_process'

// Of the parent's flags, children take only those that decide how modules load (tsx in a checkout,
// export conditions): a test runner's, profiler's or inspector's flags would make them something else.
const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader', '--conditions', '-C'])

export function loaderFlags(execArgv: readonly string[]): string[] {
  const kept: string[] = []
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!
    const name = flag.split('=')[0]!
    if (!LOADER_FLAGS.has(name)) continue
    kept.push(flag)
    if (!flag.includes('=') && i + 1 < execArgv.length) kept.push(execArgv[++i]!)
  }
  return kept
}

let idleLauncher: string[] | null | undefined

/**
 * The command prefix that starts a process under SCHED_IDLE (`chrt --idle 0`), or null where that
 * fails: not Linux, no util-linux, or a sandbox that refuses the policy. Node cannot set a scheduling
 * policy itself, and a policy set from outside after start would miss threads; set before exec, every
 * thread inherits it. Tried once per process (two short execs).
 */
export function schedIdleLauncher(): string[] | null {
  if (idleLauncher === undefined) {
    const prefix = ['chrt', '--idle', '0']
    const probe = process.platform === 'linux' ? spawnSync(prefix[0]!, [...prefix.slice(1), 'chrt', '--version'], { stdio: 'ignore', timeout: 5000 }) : null
    idleLauncher = probe && probe.status === 0 ? prefix : null
  }
  return idleLauncher
}
