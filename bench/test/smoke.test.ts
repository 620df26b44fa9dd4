// Every benchmark in its few-second variant, so the scripts do not rot: each
// must exit cleanly and print a table that run-all can read. Figures are not
// asserted here (CI machines are too noisy for that; see bench/README.md).
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, test } from 'node:test'
import { JOBS, runJob } from '../run-all.js'

const benchDir = fileURLToPath(new URL('..', import.meta.url))
// One variant of each script is enough to prove it runs.
const variants = new Set(['protected-route (hot token)'])
const jobs = JOBS.filter((job) => !variants.has(job.name) && existsSync(benchDir + job.script))

// Two at a time: each script pins itself and its servers, and none asserts a figure.
void describe('benchmark smoke runs', { concurrency: 2 }, () => {
  for (const job of jobs) {
    void test(`bench ${job.name} runs in smoke mode and prints its table`, async () => {
      const result = await runJob(job, true)
      assert.equal(result.status, 'ok', result.stdout)
      assert.match(result.stdout, /^\|.*\|$/m, 'prints a markdown table')
      assert.ok(result.rows.length > 0, `run-all reads no rows from:\n${result.stdout}`)
    })
  }
})
