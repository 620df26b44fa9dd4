// The README says that in a checkout nothing needs building, and `npx tessera` is how it runs the CLI. A build
// left behind (`npm run build`, `npm run bench`) must not change that: the bin runs the sources in a checkout, so
// an edit is never hidden by a stale dist/. An installed package (which ships src/ too) runs its build.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const server = join(root, 'packages', 'server')

/** A copy of the bin beside a stub build and stub sources, inside the checkout so @tessera/* resolve as they do here. */
function stubPackage(t: TestContext, { checkout }: { checkout: boolean }) {
  const dir = mkdtempSync(join(root, 'node_modules', '.tessera-bin-checkout-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'bin'))
  mkdirSync(join(dir, 'dist', 'cli'), { recursive: true })
  mkdirSync(join(dir, 'src', 'cli'), { recursive: true })
  copyFileSync(join(server, 'bin', 'tessera.js'), join(dir, 'bin', 'tessera.js'))
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }')
  writeFileSync(join(dir, 'src', 'cli', 'main.ts'), "console.log('sources')\n")
  // Written after the sources, as `npm run build` leaves it.
  writeFileSync(join(dir, 'dist', 'cli', 'main.js'), "console.log('build')\n")
  if (checkout) copyFileSync(join(server, 'tsconfig.build.json'), join(dir, 'tsconfig.build.json'))
  return () => spawnSync(process.execPath, [join(dir, 'bin', 'tessera.js')], { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '' } })
}

void test('in a checkout that also has a build, the tessera bin runs the sources', (t) => {
  const run = stubPackage(t, { checkout: true })()
  assert.equal(run.status, 0, run.stderr)
  assert.equal(run.stdout.trim(), 'sources')
})

void test('an installed package (src/ and dist/, no tsconfig.build.json) runs its build', (t) => {
  const run = stubPackage(t, { checkout: false })()
  assert.equal(run.status, 0, run.stderr)
  assert.equal(run.stdout.trim(), 'build')
})

void test('the published server package leaves out tsconfig.build.json, the mark by which the bin knows a checkout', () => {
  const run = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: server, encoding: 'utf8', timeout: 120_000 })
  assert.equal(run.status, 0, run.stderr)
  const [report] = JSON.parse(run.stdout) as [{ files: { path: string }[] }]
  const files = report.files.map((f) => f.path)
  assert.ok(files.includes('bin/tessera.js') && files.includes('src/cli/main.ts'), 'the pack lists the bin and the sources')
  assert.ok(!files.includes('tsconfig.build.json'))
})
