#!/usr/bin/env node
// Runs every *.test.ts under packages/, test/ and bench/ (or the files/folders given)
// with node:test through tsx, so a single command covers the whole suite. Files whose name
// ends in .long.test.ts run only with --long (see `npm run test:long`), those ending in
// .smoke.test.ts (every benchmark script in its few-second variant) only with --smoke
// (`npm run test:bench`, which CI runs after `npm test`).
// First it makes sure what the chosen files need is there (prerequisites.mjs):
// it installs missing programs as root with apt-get, or stops at once with the
// exact command.
// NODE_OPTIONS gains --conditions=tessera-source, so @tessera/* packages load from
// their src/*.ts in the tests and in every process a test starts (no build step).
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ensurePrerequisites } from './prerequisites.mjs'

const args = process.argv.slice(2)
// The kind of file this run takes: plain *.test.ts, or the .long / .smoke ones asked for.
const kind = args.includes('--long') ? '.long.test.ts' : args.includes('--smoke') ? '.smoke.test.ts' : null
const kindOf = (name) => ['.long.test.ts', '.smoke.test.ts'].find((suffix) => name.endsWith(suffix)) ?? null
const roots = args.filter((a) => !a.startsWith('--'))

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) collect(path, out)
    else if (name.endsWith('.test.ts') && kindOf(name) === kind) out.push(path)
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
// A full run also checks the shared Redis and PostgreSQL; a chosen file set may not need them.
const problem = await ensurePrerequisites(files.map((f) => relative(process.cwd(), f)), process.env, { services: roots.length === 0 || kind === '.smoke.test.ts' })
if (problem) {
  console.error(`tessera tests: ${problem}`)
  process.exit(1)
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2'
// The usual reporter on stdout (spec on a terminal, TAP otherwise), and the slowest files on stderr at the end.
const reporters = [
  `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`,
  '--test-reporter-destination=stdout',
  `--test-reporter=${new URL('./file-times-reporter.mjs', import.meta.url).href}`,
  '--test-reporter-destination=stderr',
]
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', ...reporters, `--test-concurrency=${concurrency}`, '--test-timeout=240000', ...files.map((f) => relative(process.cwd(), f))],
  { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=tessera-source`.trim() } },
)
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
