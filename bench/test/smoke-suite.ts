// Every benchmark in its few-second variant, so the scripts do not rot: each
// must exit cleanly and print a table that run-all can read. Figures are not
// asserted here (CI machines are too noisy for that; see bench/README.md).
// The jobs are dealt over two test files (smoke-1, smoke-2), each under the
// runner's per-file time limit: one file for all of them no longer fits it.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, test } from 'node:test'
import { JOBS, runJob } from '../run-all.js'

const benchDir = fileURLToPath(new URL('..', import.meta.url))
// One variant of each script is enough to prove it runs.
const variants = new Set(['protected-route (hot token)'])
const jobs = JOBS.filter((job) => !variants.has(job.name) && existsSync(benchDir + job.script))

/** Declares the smoke tests of every `parts`-th job, starting at `part` (1-based). */
export function smokeSuite(part: number, parts: number): void {
  const mine = jobs.filter((_, i) => i % parts === part - 1)
  // Two at a time: each script pins itself and its servers, and none asserts a figure.
  void describe(`benchmark smoke runs, part ${part} of ${parts}`, { concurrency: 2 }, () => {
    for (const job of mine) {
      void test(`bench ${job.name} runs in smoke mode and prints its table`, async () => {
        const result = await runJob(job, true)
        assert.equal(result.status, 'ok', result.stdout)
        assert.match(result.stdout, /^\|.*\|$/m, 'prints a markdown table')
        assert.ok(result.rows.length > 0, `run-all reads no rows from:\n${result.stdout}`)
      })
    }
  })
}
