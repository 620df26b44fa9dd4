// A browser that cannot start must end the account-page suite at once and
// release what the suite opened (the listening server), never hold the run
// until the test timeout. The child process below does what the suite's
// `before` does; it must exit by itself with the launch error.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

test('a failed Chromium launch rejects with the binary and the fix, and leaves nothing open', () => {
  const script = `
    import { startServerAndBrowser } from './test/web/harness.ts'
    try {
      await startServerAndBrowser()
      console.log('launched')
    } catch (err) {
      console.error(err.message)
      process.exitCode = 3
    }
  `
  const child = spawnSync(process.execPath, ['--conditions=tessera-source', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    timeout: 90_000,
    env: { ...process.env, TESSERA_CHROMIUM: '/nonexistent/chromium' },
  })
  assert.equal(child.signal, null, `the process exits by itself (nothing left open)\n${child.stderr}`)
  assert.equal(child.status, 3, child.stdout + child.stderr)
  assert.match(child.stderr, /could not launch Chromium at \/nonexistent\/chromium .*install it \(apt-get install chromium\) or set TESSERA_CHROMIUM/)
})
