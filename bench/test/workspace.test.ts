// The README's `npm ci` at the root must be all the set-up the benchmarks need:
// bench/ is a workspace of the root package, so its peers are in the root lock
// file and resolve from bench/ without a second install.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const readJson = (path: string): Record<string, unknown> => JSON.parse(readFileSync(root + path, 'utf8')) as Record<string, unknown>

test('bench/ is a workspace of the root package, with no lock file or install of its own', () => {
  const workspaces = readJson('package.json').workspaces as string[] | undefined
  assert.ok(workspaces?.includes('bench'), 'root package.json lists bench/ as a workspace')
  assert.equal(existsSync(root + 'bench/package-lock.json'), false, 'no second lock file to install from')
  assert.doesNotMatch(readFileSync(root + '.ci/run', 'utf8'), /--prefix bench/, 'CI needs no second install')
})

test("the root lock file holds every benchmark peer, so `npm ci` at the root installs them", () => {
  const bench = readJson('bench/package.json')
  const lock = readJson('package-lock.json') as { packages: Record<string, { dev?: boolean }> }
  for (const name of Object.keys(bench.devDependencies as Record<string, string>)) {
    assert.ok(lock.packages[`node_modules/${name}`], `${name} is in the root package-lock.json`)
    assert.ok(import.meta.resolve(name), `${name} resolves from bench/`)
  }
})
