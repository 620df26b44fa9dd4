// A node:test reporter that prints, at the end of a run, how long each test
// file took from its first event to its last, slowest first. The suite has a
// time budget (well under 10 minutes on a quiet 2-core machine); this is where
// to look when it grows. Used by run-tests.mjs beside the TAP reporter.

/** @param {AsyncIterable<{ type: string, data: { file?: string } }>} source */
export default async function* fileTimes(source) {
  /** @type {Map<string, { first: number, last: number }>} */
  const files = new Map()
  const started = performance.now()
  for await (const event of source) {
    const file = event.data?.file
    if (!file) continue
    const now = performance.now()
    const seen = files.get(file)
    if (seen) seen.last = now
    else files.set(file, { first: now, last: now })
  }
  const total = (performance.now() - started) / 1000
  const rows = [...files]
    .map(([file, { first, last }]) => ({ file: file.replace(`${process.cwd()}/`, ''), seconds: (last - first) / 1000 }))
    .sort((a, b) => b.seconds - a.seconds)
  yield `\nslowest test files (wall time from first to last event; files run ${process.env.TEST_CONCURRENCY ?? '2'} at a time; whole run ${total.toFixed(0)} s):\n`
  for (const { file, seconds } of rows.slice(0, 15)) yield `${seconds.toFixed(1).padStart(7)} s  ${file}\n`
}
