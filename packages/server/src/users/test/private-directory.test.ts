// The embedded user database and the data dir: owner-only files, and a
// directory that group or others can write is refused at start.
import assert from 'node:assert/strict'
import { chmod, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { loadConfig } from '../../server/config.js'
import { openResources } from '../../server/resources.js'
import { openEmbeddedUserStore } from '../embedded.js'

let root: string
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tessera-private-'))
})
after(() => rm(root, { recursive: true, force: true }))

/** Every path under `dir` whose mode lets group or others in. */
async function looseEntries(dir: string): Promise<string[]> {
  const loose: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isSymbolicLink()) continue
    const path = join(entry.parentPath, entry.name)
    const mode = (await stat(path)).mode & 0o777
    if ((mode & 0o077) !== 0) loose.push(`${mode.toString(8)} ${path.slice(dir.length)}`)
  }
  return loose
}

void test('the embedded user database keeps its files owner-only (PGlite creates them 0666)', async () => {
  const dir = join(root, 'users')
  const users = await openEmbeddedUserStore(dir)
  try {
    await users.createUser({ email: 'owner-only@example.com', passwordHash: 'x' })
  } finally {
    await users.close()
  }
  assert.equal((await stat(dir)).mode & 0o777, 0o700)
  assert.deepEqual((await looseEntries(dir)).slice(0, 5), [])
  // Reopened, still so.
  const again = await openEmbeddedUserStore(dir)
  await again.close()
  assert.deepEqual((await looseEntries(dir)).slice(0, 5), [])
})

void test('a user database directory or data dir that group or others can write is refused, naming the fix', async () => {
  const dir = join(root, 'shared-users')
  await (await openEmbeddedUserStore(dir)).close()
  await chmod(dir, 0o770)
  await assert.rejects(openEmbeddedUserStore(dir), (err: Error) => err.name === 'UnsafeDirectory' && err.message.includes(`chmod 700 ${dir}`))

  const dataDir = join(root, 'data')
  await mkdir(dataDir, { mode: 0o700 })
  await chmod(dataDir, 0o757)
  await assert.rejects(openResources(loadConfig({ TESSERA_DATA_DIR: dataDir, LOG_LEVEL: 'silent' })), (err: Error) => /writable by group or others \(mode 757\)/.test(err.message))
})
