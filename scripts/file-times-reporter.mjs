// A node:test reporter that prints, at the end of a run, how long each test
// file took (its child process, start to exit), slowest first. The suite has a
// time budget (well under 10 minutes on a quiet 2-core machine); this is where
// to look when it grows. Used by run-tests.mjs beside the TAP or spec reporter.

/** @param {AsyncIterable<{ type: string, data: { name?: string, file?: string, details?: { duration_ms?: number } } }>} source */
export default async function* fileTimes(source) {
  /** @type {{ file: string, seconds: number }[]} */
  const files = []
  const started = performance.now()
  for await (const event of source) {
    // Each file runs as one test named by its path; its 'test:complete' carries the file's whole duration.
    const { name, file, details } = event.data ?? {}
    if (event.type === 'test:complete' && name !== undefined && name === file && details?.duration_ms !== undefined) {
      files.push({ file: file.replace(`${process.cwd()}/`, ''), seconds: details.duration_ms / 1000 })
    }
  }
  if (files.length === 0) return
  files.sort((a, b) => b.seconds - a.seconds)
  const total = (performance.now() - started) / 1000
  yield `\nslowest test files (each file's process, start to exit; ${process.env.TEST_CONCURRENCY ?? '2'} at a time; whole run ${total.toFixed(0)} s, files summed ${files.reduce((s, f) => s + f.seconds, 0).toFixed(0)} s):\n`
  for (const { file, seconds } of files.slice(0, 20)) yield `${seconds.toFixed(1).padStart(7)} s  ${file}\n`
}
