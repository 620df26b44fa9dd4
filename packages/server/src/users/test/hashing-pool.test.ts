import assert from 'node:assert/strict'
import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { getPriority } from 'node:os'
import { test } from 'node:test'
import { ARGON2_OPTIONS, HashingOverloaded, HashingPool, HashingUnavailable } from '../index.js'

/** Nice value of every thread of a process (Linux: /proc/<pid>/task/<tid>/stat, field 19). */
function threadNiceValues(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    // The fields after the parenthesised command name start at field 3 (state).
    const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
    return Number(fields[19 - 3])
  })
}

void test('hashes in child processes that run at a low CPU priority (nice 10)', async (t) => {
  const pool = new HashingPool({ size: 2 })
  t.after(() => pool.close())
  const hash = await pool.hash('correct horse battery', ARGON2_OPTIONS)
  assert.match(hash, /^\$argon2id\$/)
  assert.equal(await pool.verify(hash, 'correct horse battery'), true)
  assert.equal(await pool.verify(hash, 'wrong horse battery'), false)
  pool.warm()
  assert.equal(pool.processIds.length, 2)
  // The child sets its own priority as its first step; a verify round trip proves it has run.
  await Promise.all([pool.verify(hash, 'x'), pool.verify(hash, 'y')])
  for (const pid of pool.processIds) {
    assert.notEqual(pid, process.pid)
    assert.equal(getPriority(pid), 10)
  }
})

void test('every thread of a hashing process is niced, not only the main one (argon2 runs on the libuv pool threads)', { skip: !existsSync('/proc/self/task') && 'no /proc: nice is per process' }, async (t) => {
  const pool = new HashingPool({ size: 1 })
  t.after(() => pool.close())
  const hash = await pool.hash('correct horse battery', ARGON2_OPTIONS)
  assert.equal(await pool.verify(hash, 'correct horse battery'), true)
  const [pid] = pool.processIds
  const niceValues = threadNiceValues(pid!)
  assert.ok(niceValues.length > 1, `threads: ${niceValues.length}`)
  assert.deepEqual(niceValues.filter((nice) => nice !== 10), [], `nice values of the threads: ${niceValues.join(',')}`)
})

void test('a full queue refuses at once with a Retry-After instead of making the caller wait', async (t) => {
  const pool = new HashingPool({ size: 1, maxQueued: 1 })
  t.after(() => pool.close())
  const running = pool.hash('first password', ARGON2_OPTIONS)
  const queued = pool.hash('second password', ARGON2_OPTIONS)
  await assert.rejects(pool.hash('third password', ARGON2_OPTIONS), (err: unknown) => {
    assert.ok(err instanceof HashingOverloaded)
    assert.ok(err.retryAfterSeconds >= 1, `retry after ${err.retryAfterSeconds}`)
    return true
  })
  assert.equal(pool.queued, 1)
  // The refused request took nothing from the others: both finish.
  assert.match(await running, /^\$argon2id\$/)
  assert.match(await queued, /^\$argon2id\$/)
})

void test('a hashing process that dies fails its request cleanly and the pool goes on', async (t) => {
  const pool = new HashingPool({ size: 1 })
  t.after(() => pool.close())
  pool.warm()
  const [pid] = pool.processIds
  const inFlight = pool.hash('doomed password', ARGON2_OPTIONS)
  const waiting = pool.hash('next password', ARGON2_OPTIONS)
  process.kill(pid!, 'SIGKILL')
  await assert.rejects(inFlight, HashingUnavailable)
  // The queued request is handed to a fresh child.
  assert.match(await waiting, /^\$argon2id\$/)
  assert.notDeepEqual(pool.processIds, [pid])
})

void test('close ends the children and refuses later work', async () => {
  const pool = new HashingPool({ size: 1 })
  pool.warm()
  const [pid] = pool.processIds
  await pool.close()
  assert.throws(() => process.kill(pid!, 0), { code: 'ESRCH' })
  await assert.rejects(pool.hash('late password', ARGON2_OPTIONS), HashingUnavailable)
  await pool.close()
})

void test('an idle pool does not keep the process alive', async () => {
  const { spawn } = await import('node:child_process')
  const script = `import { HashingPool, ARGON2_OPTIONS } from ${JSON.stringify(new URL('../index.ts', import.meta.url).href)}
const pool = new HashingPool({ size: 1 })
await pool.hash('a password here', ARGON2_OPTIONS)
console.log('hashed')`
  const child = spawn(process.execPath, ['--conditions=tessera-source', '--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  const [code] = (await once(child, 'exit')) as [number]
  assert.equal(code, 0)
  assert.match(out, /hashed/)
})
