// A child process a test started and must stop by its PID, whatever happens to
// the test: SIGTERM, then SIGKILL if it is still there 5 s later.
import type { ChildProcess } from 'node:child_process'

/** A process a test owns. */
export interface OwnedProcess {
  pid: number
  process: ChildProcess
  /** SIGTERM (then SIGKILL after 5 s) by PID; resolves once it exited. Idempotent. */
  stop(): Promise<void>
}

/** Owns `child`: `stop()` ends it by PID, then runs `cleanup`. */
export function owned(child: ChildProcess, cleanup: () => void = () => {}): OwnedProcess {
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
