// The documented invocation works from a checkout, right after `npm ci`:
// `npx tessera ...` finds the bin of @tessera/server, which runs the sources
// when there is no build.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
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

void test('a checkout that also has a build runs the build, or the sources when the tessera-source condition is on', (t) => {
  // A copy of the bin beside a stub build and stub sources, inside the checkout so @tessera/* resolve as they do
  // here. Under the condition (what `npm test` sets) the build cannot load @tessera/* (.ts); it ran it before.
  const dir = mkdtempSync(join(root, 'node_modules', '.tessera-bin-test-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'bin'))
  mkdirSync(join(dir, 'dist', 'cli'), { recursive: true })
  mkdirSync(join(dir, 'src', 'cli'), { recursive: true })
  copyFileSync(join(root, 'packages', 'server', 'bin', 'tessera.js'), join(dir, 'bin', 'tessera.js'))
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }')
  writeFileSync(join(dir, 'dist', 'cli', 'main.js'), "console.log('build')\n")
  writeFileSync(join(dir, 'src', 'cli', 'main.ts'), "console.log('sources')\n")
  const run = (nodeOptions: string) =>
    spawnSync(process.execPath, [join(dir, 'bin', 'tessera.js')], { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_OPTIONS: nodeOptions } })
  const plain = run('')
  assert.equal(plain.status, 0, plain.stderr)
  assert.equal(plain.stdout.trim(), 'build')
  const source = run('--conditions=tessera-source')
  assert.equal(source.status, 0, source.stderr)
  assert.equal(source.stdout.trim(), 'sources')
})
