// The documented invocation works from a checkout, right after `npm ci`:
// `npx tessera ...` finds the bin of @tessera/server, which runs the sources
// when there is no build.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../../../../', import.meta.url))
const bin = `${root}node_modules/.bin/tessera`
const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version

void test('the tessera bin runs from a checkout without a build and prints its version', () => {
  const run = spawnSync(bin, ['--version'], { cwd: root, encoding: 'utf8', timeout: 120_000 })
  assert.equal(run.error, undefined, `${bin} runs`)
  assert.equal(run.status, 0, run.stderr)
  assert.equal(run.stdout.trim(), version)
})

void test('an unknown command through the bin exits 2 with a one-line usage error', () => {
  const run = spawnSync(bin, ['no-such-command'], { cwd: root, encoding: 'utf8', timeout: 120_000 })
  assert.equal(run.status, 2, run.stderr)
  assert.match(run.stderr, /unknown command 'no-such-command'/)
})
