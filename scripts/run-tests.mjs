#!/usr/bin/env node
// Runs every *.test.ts under packages/, test/ and bench/ (or the files/folders given)
// with node:test through tsx, so a single command covers the whole suite. Files whose name
// ends in .long.test.ts run only with --long (see `npm run test:long`).
// NODE_OPTIONS gains --conditions=tessera-source, so @tessera/* packages load from
// their src/*.ts in the tests and in every process a test starts (no build step).
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const args = process.argv.slice(2)
const long = args.includes('--long')
const roots = args.filter((a) => !a.startsWith('--'))

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) collect(path, out)
    else if (name.endsWith('.test.ts') && name.endsWith('.long.test.ts') === long) out.push(path)
  }
  return out
}

const files = []
for (const root of roots.length ? roots : ['packages', 'test', 'bench']) {
  if (statSync(root).isDirectory()) collect(root, files)
  else files.push(root)
}
files.sort()
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2'
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=240000', ...files.map((f) => relative(process.cwd(), f))],
  { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=tessera-source`.trim() } },
)
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
