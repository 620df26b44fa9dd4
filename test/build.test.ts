// scripts/build.mjs empties each package's dist/ before its build: a file left there by an
// earlier build (a module since renamed or deleted) must not survive to be packed.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'

const BUILD = join(import.meta.dirname, '..', 'scripts', 'build.mjs')

void test('the build empties dist/ first: a stale module from an earlier build is gone, the fresh output is there', async (t) => {
  // A workspace of one package whose build writes dist/index.js, as tsc would.
  const root = mkdtempSync(join(tmpdir(), 'tessera-build-'))
  t.after(() => rmSync(root, { recursive: true, force: true }))
  const dir = join(root, 'packages', 'one')
  mkdirSync(join(dir, 'dist', 'old'), { recursive: true })
  const emit = "const fs = require('node:fs'); fs.mkdirSync('dist', { recursive: true }); fs.writeFileSync('dist/index.js', 'export {}')"
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@example/one', version: '0.0.0', scripts: { build: `node -e "${emit}"` } }))
  writeFileSync(join(dir, 'dist', 'removed-module.js'), 'export const stale = true')
  writeFileSync(join(dir, 'dist', 'old', 'nested.d.ts'), 'export {}')
  await promisify(execFile)(process.execPath, [BUILD], { cwd: root, timeout: 120_000 })
  assert.ok(existsSync(join(dir, 'dist', 'index.js')), 'the build ran')
  assert.ok(!existsSync(join(dir, 'dist', 'removed-module.js')), 'a stale module is gone')
  assert.ok(!existsSync(join(dir, 'dist', 'old')), 'a stale directory is gone')
})
