import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { getPriority } from 'node:os'
import { test, type TestContext } from 'node:test'
import { ARGON2_OPTIONS, HashingOverloaded, HashingPool, HashingUnavailable } from '../index.js'

/** Nice value and scheduling policy of every thread of a process (Linux: /proc/<pid>/task/<tid>/stat, fields 19 and 41). */
function threadPriorities(pid: number): { nice: number; policy: number }[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    // The fields after the parenthesised command name start at field 3 (state).
    const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
    return { nice: Number(fields[19 - 3]), policy: Number(fields[41 - 3]) }
  })
}

/**
 * Stops the pool's one child (SIGSTOP): what starvation looks like to the pool, an answer that never comes.
 * It runs again (SIGCONT) and the pool closes when the test ends; returns the child's pid.
 */
function stopOnlyChild(t: TestContext, pool: HashingPool): number {
  pool.warm()
  const [pid] = pool.processIds
  process.kill(pid!, 'SIGSTOP')
  t.after(async () => {
    process.kill(pid!, 'SIGCONT')
    await pool.close()
  })
  return pid!
}

/** The refusal of a shed request: HashingOverloaded, with a Retry-After a client can act on. */
function isShedWithRetryAfter(err: unknown): boolean {
  assert.ok(err instanceof HashingOverloaded)
  assert.ok(err.retryAfterSeconds >= 1, `retry after ${err.retryAfterSeconds}`)
  return true
}

/** Hashes and verifies once (so the child has started its libuv pool threads), then reads its threads' priorities. */
async function threadsAfterOneHash(t: TestContext, pool: HashingPool): Promise<{ nice: number; policy: number }[]> {
  t.after(() => pool.close())
  const hash = await pool.hash('correct horse battery', ARGON2_OPTIONS)
  assert.equal(await pool.verify(hash, 'correct horse battery'), true)
  const [pid] = pool.processIds
  const threads = threadPriorities(pid!)
  assert.ok(threads.length > 1, `threads: ${threads.length}`)
  return threads
}

const SCHED_OTHER = 0
const SCHED_IDLE = 5
const noProc = !existsSync('/proc/self/task') && 'no /proc: nice is per process'
// What the pool itself tries: util-linux chrt starting a process under SCHED_IDLE.
const noSchedIdle = spawnSync('chrt', ['--idle', '0', 'chrt', '--version'], { stdio: 'ignore' }).status !== 0 && 'chrt --idle is not available here'

void test('hashes in child processes that run at a low CPU priority (nice 10 at least)', async (t) => {
  // No rescue children here (a slow start on a busy machine would look like starvation): this counts processes.
  const pool = new HashingPool({ size: 2, rescueAfterMs: 600_000 })
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

void test('with priority "nice", every thread of a hashing process is niced, not only the main one (argon2 runs on the libuv pool threads)', { skip: noProc }, async (t) => {
  const threads = await threadsAfterOneHash(t, new HashingPool({ size: 1, priority: 'nice' }))
  assert.deepEqual(threads.filter((thread) => thread.nice !== 10 || thread.policy !== SCHED_OTHER), [])
})

void test('by default every thread of a hashing process runs under SCHED_IDLE, so a waking request preempts a hash at once', { skip: noProc || noSchedIdle }, async (t) => {
  const threads = await threadsAfterOneHash(t, new HashingPool({ size: 1 }))
  assert.deepEqual(threads.filter((thread) => thread.policy !== SCHED_IDLE), [])
})

void test('a hash the SCHED_IDLE child cannot run is answered by a niced rescue child, and the late answer is dropped', { skip: noProc || noSchedIdle, timeout: 60_000 }, async (t) => {
  const pool = new HashingPool({ size: 1, rescueAfterMs: 50 })
  const starved = stopOnlyChild(t, pool)
  const hash = await pool.hash('correct horse battery', ARGON2_OPTIONS)
  assert.match(hash, /^\$argon2id\$/)
  const rescuers = pool.processIds.filter((pid) => pid !== starved)
  assert.equal(rescuers.length, 1)
  assert.deepEqual(threadPriorities(rescuers[0]!).filter((thread) => thread.nice !== 10 || thread.policy !== SCHED_OTHER), [])
  // While the low lane starves, new requests go to the rescue child too (the stopped child still holds the first).
  assert.equal(await pool.verify(hash, 'correct horse battery'), true)
  // Resumed, the starved child answers the first request again; that answer is dropped and the pool goes on.
  process.kill(starved, 'SIGCONT')
  assert.equal(await pool.verify(hash, 'wrong horse battery'), false)
})

void test('a full queue refuses at once with a Retry-After instead of making the caller wait', async (t) => {
  const pool = new HashingPool({ size: 1, maxQueued: 1 })
  t.after(() => pool.close())
  const running = pool.hash('first password', ARGON2_OPTIONS)
  const queued = pool.hash('second password', ARGON2_OPTIONS)
  await assert.rejects(pool.hash('third password', ARGON2_OPTIONS), isShedWithRetryAfter)
  assert.equal(pool.queued, 1)
  // The refused request took nothing from the others: both finish.
  assert.match(await running, /^\$argon2id\$/)
  assert.match(await queued, /^\$argon2id\$/)
})

void test('a request that waits longer than maxWaitMs for a child is refused with a Retry-After, never left hanging', { skip: process.platform === 'win32' && 'no SIGSTOP' }, async (t) => {
  // Niced only (no rescue children): the one child stops answering, so the queue cannot move.
  const pool = new HashingPool({ size: 1, priority: 'nice', maxWaitMs: 100 })
  const stuck = stopOnlyChild(t, pool)
  const running = pool.hash('first password', ARGON2_OPTIONS)
  await assert.rejects(pool.hash('second password', ARGON2_OPTIONS), isShedWithRetryAfter)
  assert.equal(pool.queued, 0)
  // The request already with a child is not cut off: it is answered once the child runs again.
  process.kill(stuck, 'SIGCONT')
  assert.match(await running, /^\$argon2id\$/)
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
