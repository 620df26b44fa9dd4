// `npm run bench` checks, before its quarter hour starts, that what the chosen benchmarks
// launch is installed (installing it as root, as `npm test` does). A fresh machine without
// NGINX used to run every other benchmark and record the gateway's as failed.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { missingPrograms } from '../../scripts/prerequisites.mjs'
import { JOBS, prerequisiteFiles } from '../run-all.js'

const nothingInstalled = { executable: () => false }
const namesFor = (jobs: typeof JOBS): string[] => missingPrograms(prerequisiteFiles(jobs), nothingInstalled).map((p: { name: string }) => p.name)

test('the gateway benchmark needs NGINX, so the run checks for it first', () => {
  const gateway = JOBS.filter((j) => j.script === 'gateway.ts')
  assert.equal(gateway.length, 1)
  assert.ok(namesFor(gateway).includes('NGINX'))
})

test('benchmarks that start no proxy ask for no NGINX', () => {
  const refresh = JOBS.filter((j) => j.script === 'refresh.ts')
  assert.equal(refresh.length, 1)
  assert.ok(!namesFor(refresh).includes('NGINX'))
  assert.ok(namesFor(refresh).includes('redis-server'))
})
