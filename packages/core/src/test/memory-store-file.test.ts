// The embedded store across restarts: a graceful close keeps sessions, a crash
// (no close) keeps every change that returned, a torn last record is dropped,
// and any other damage stops the start instead of forgetting a revocation.
import assert from 'node:assert/strict'
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { deliveryQueueContract } from '../../../../test/support/delivery-queue-contract.js'
import { manualClock } from '../clock.js'
import { JOURNAL_FILE, MemoryStoreFileError, PersistentMemoryStore, SNAPSHOT_FILE } from '../memory-store-file.js'
import { SigningKeySet } from '../signing-keys.js'
import { createTessera } from '../tessera.js'
import { storeContract } from '../../../../test/support/store-contract.js'

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tessera-store-file-'))
}

/** A data directory for one test; the stores opened on it are closed before it is removed. */
function workspace(t: TestContext): { dir: string; open(): Promise<PersistentMemoryStore> } {
  const dir = tempDir()
  const stores: PersistentMemoryStore[] = []
  t.after(async () => {
    for (const store of stores) await store.close().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    dir,
    async open() {
      const store = await PersistentMemoryStore.open(dir)
      stores.push(store)
      return store
    },
  }
}

storeContract({
  name: 'PersistentMemoryStore',
  async create() {
    const dir = tempDir()
    const store = await PersistentMemoryStore.open(dir)
    return {
      store,
      async cleanup() {
        await store.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  },
})

describe('PersistentMemoryStore.deliveryQueue', () => {
  deliveryQueueContract(async () => {
    const dir = tempDir()
    const store = await PersistentMemoryStore.open(dir)
    return {
      queue: store.deliveryQueue,
      async close() {
        await store.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  })
})

describe('PersistentMemoryStore across restarts', () => {
  const tokenKey = 'persistence-test-token-key-32-bytes!!'
  const clock = manualClock(Date.now())
  const keysPromise = SigningKeySet.generate()
  const engine = async (store: PersistentMemoryStore) => createTessera({ store, clock, keys: await keysPromise, tokenKey, heartbeatIntervalMs: 0 })

  test('a graceful restart keeps sessions: refresh works, and the journal is empty afterwards', async (t) => {
    const { dir, open } = workspace(t)
    const first = await open()
    const login = await (await engine(first)).createSession({ userId: 'alice' })
    await first.close()
    assert.equal(readFileSync(join(dir, JOURNAL_FILE), 'utf8'), '')
    assert.equal(statSync(join(dir, SNAPSHOT_FILE)).mode & 0o777, 0o600)
    assert.equal(statSync(join(dir, JOURNAL_FILE)).mode & 0o777, 0o600)

    const second = await open()
    assert.deepEqual(second.recovery, { snapshotSessions: 1, replayedRecords: 0, droppedTornRecord: false })
    const next = await (await engine(second)).refreshSession(login.refreshToken)
    assert.equal(next.sessionId, login.sessionId)
  })

  test('after a crash (no close) every change that returned is back: a revoked session stays revoked, a rotation stays rotated', async (t) => {
    const { open } = workspace(t)
    const crashed = await open()
    const auth = await engine(crashed)
    const kept = await auth.createSession({ userId: 'bob' })
    const rotated = await auth.refreshSession(kept.refreshToken)
    const revoked = await auth.createSession({ userId: 'bob' })
    await auth.revokeSession(revoked.sessionId)
    const banned = await auth.createSession({ userId: 'carol' })
    await auth.banUser('carol')
    const { token } = await auth.issueOneTimeToken('bob', 'password-reset')
    await auth.consumeOneTimeToken(token, 'password-reset')
    // No close: the process "died" here. The files are all the next start has.

    const restarted = await open()
    assert.ok(restarted.recovery.replayedRecords >= 8, 'every change since the start was replayed')
    const again = await engine(restarted)
    await assert.rejects(again.refreshSession(revoked.refreshToken), { code: 'ERR_SESSION_NOT_FOUND' })
    await assert.rejects(again.refreshSession(banned.refreshToken), { code: 'ERR_SESSION_NOT_FOUND' })
    assert.equal((await again.getUserState('carol')).banned, true)
    await assert.rejects(again.consumeOneTimeToken(token, 'password-reset'), { code: 'ERR_ONE_TIME_TOKEN_INVALID' })
    // The first token of the kept session was rotated away: presenting it now is reuse, as before the crash.
    const next = await again.refreshSession(rotated.refreshToken)
    assert.equal(next.sessionId, kept.sessionId)
  })

  test('a crash between the snapshot and the journal truncation replays nothing twice', async (t) => {
    const { dir, open } = workspace(t)
    const first = await open()
    const login = await (await engine(first)).createSession({ userId: 'dave' })
    const rotated = await (await engine(first)).refreshSession(login.refreshToken)
    copyFileSync(join(dir, JOURNAL_FILE), join(dir, 'journal.copy'))
    await first.close()
    // The old records come back beside the snapshot that already holds them.
    copyFileSync(join(dir, 'journal.copy'), join(dir, JOURNAL_FILE))
    const second = await open()
    assert.equal(second.recovery.replayedRecords, 0)
    // Replaying the rotation twice would have looked like reuse and ended the session.
    assert.equal((await (await engine(second)).refreshSession(rotated.refreshToken)).sessionId, login.sessionId)
  })

  test('a torn last record (cut short by a crash) is dropped and the start goes on', async (t) => {
    const { dir, open } = workspace(t)
    const first = await open()
    const login = await (await engine(first)).createSession({ userId: 'erin' })
    appendFileSync(join(dir, JOURNAL_FILE), '0badc0de\t{"seq":2,"op":"revokeSes')
    const second = await open()
    assert.deepEqual(second.recovery, { snapshotSessions: 0, replayedRecords: 1, droppedTornRecord: true })
    assert.equal((await (await engine(second)).refreshSession(login.refreshToken)).sessionId, login.sessionId)
  })

  test('a damaged record or snapshot stops the start with the file, the line and what to do', async (t) => {
    const { dir, open } = workspace(t)
    const first = await open()
    const auth = await engine(first)
    await auth.createSession({ userId: 'frank' })
    await auth.createSession({ userId: 'frank' })
    const journal = join(dir, JOURNAL_FILE)
    const lines = readFileSync(journal, 'utf8').split('\n')
    writeFileSync(journal, [lines[0]!.replace('frank', 'frenk'), ...lines.slice(1)].join('\n'))
    await assert.rejects(PersistentMemoryStore.open(dir), (err: unknown) => {
      assert.ok(err instanceof MemoryStoreFileError)
      assert.match(err.message, new RegExp(`${JOURNAL_FILE} line 1 is damaged \\(checksum mismatch\\); move .* aside to start with no sessions`))
      return true
    })
    // A missing record in the middle is refused too.
    writeFileSync(journal, `${lines[1]}\n`)
    await assert.rejects(PersistentMemoryStore.open(dir), /line 1 has sequence 2 after 0: a record is missing/)
    await first.close()
    writeFileSync(join(dir, SNAPSHOT_FILE), '{"version":1,"throughSeq":')
    await assert.rejects(PersistentMemoryStore.open(dir), new RegExp(`${SNAPSHOT_FILE} is not readable JSON`))
  })

  test('one process per directory: a live holder is refused, a dead one (kill -9) is taken over', async (t) => {
    const { dir, open } = workspace(t)
    const lock = join(dir, 'sessions.lock')
    // A process that is alive and not us: our parent.
    writeFileSync(lock, String(process.ppid))
    await assert.rejects(open(), new RegExp(`is in use by process ${process.ppid}: one embedded server per data dir`))
    // No process has this id (above the kernel's pid_max).
    writeFileSync(lock, '4194305')
    const store = await open()
    assert.equal(readFileSync(lock, 'utf8'), String(process.pid))
    await store.close()
    assert.throws(() => statSync(lock), /ENOENT/, 'a graceful close releases the directory')
  })

  test('only hashes of secrets reach the disk', async (t) => {
    const { dir, open } = workspace(t)
    const store = await open()
    const auth = await engine(store)
    const login = await auth.createSession({ userId: 'grace' })
    const next = await auth.refreshSession(login.refreshToken)
    const { token } = await auth.issueOneTimeToken('grace', 'password-reset')
    const journal = readFileSync(join(dir, JOURNAL_FILE), 'utf8')
    await store.close()
    const snapshot = readFileSync(join(dir, SNAPSHOT_FILE), 'utf8')
    for (const text of [journal, snapshot]) {
      // The secret and its tag: the last two dot-separated parts of refresh and one-time tokens.
      for (const secret of [login.refreshToken, next.refreshToken, token]) {
        for (const part of secret.split('.').slice(-2)) assert.ok(!text.includes(part), 'a token secret is on disk')
      }
      assert.ok(!text.includes(tokenKey))
    }
  })

  test('queued, retrying and dead-lettered deliveries survive a graceful restart and a crash; an acknowledged one never comes back', async (t) => {
    const { open } = workspace(t)
    const T0 = 1_800_000_000_000
    const message = (n: number) => ({ messageId: `msg_${n}`, destination: 'siem', payload: `{"n":${n}}` })
    const lease = { count: 10, leaseMs: 60_000 }
    const first = await open()
    await first.deliveryQueue.enqueue([message(1), message(2), message(3), message(4)], T0)
    const taken = await first.deliveryQueue.take('a', { ...lease, nowMs: T0 })
    const [delivered, retrying, dead] = taken as [(typeof taken)[0], (typeof taken)[0], (typeof taken)[0]]
    await first.deliveryQueue.ack(delivered)
    await first.deliveryQueue.retry(retrying, { atMs: T0 + 5000, nowMs: T0 })
    await first.deliveryQueue.deadLetter(dead, { nowMs: T0, error: 'HTTP 500' })
    // msg_4 stays taken by "a" when the process stops.
    await first.close()

    const second = await open()
    assert.equal(await second.deliveryQueue.depth(), 2)
    // The taker is gone with the process: msg_4 is handed out again at once, the retry at its time.
    assert.deepEqual((await second.deliveryQueue.take('b', { ...lease, nowMs: T0 + 1 })).map((i) => [i.messageId, i.attempt]), [['msg_4', 1]])
    const [again] = await second.deliveryQueue.take('b', { ...lease, nowMs: T0 + 5000 })
    assert.deepEqual([again?.messageId, again?.attempt, again?.queuedAtMs], ['msg_2', 2, T0])
    await second.deliveryQueue.retry(again!, { atMs: T0 + 15_000, nowMs: T0 + 5000 })
    await second.deliveryQueue.enqueue([message(5)], T0 + 6000)
    // No close: the process "died" here.

    const third = await open()
    assert.ok(third.recovery.replayedRecords >= 2)
    const items = await third.deliveryQueue.take('c', { ...lease, nowMs: T0 + 15_000 })
    assert.deepEqual(items.map((i) => [i.messageId, i.attempt]).sort(), [['msg_2', 3], ['msg_4', 1], ['msg_5', 1]])
    assert.deepEqual((await third.deliveryQueue.deadLetters(10)).map((d) => [d.messageId, d.error]), [['msg_3', 'HTTP 500']])
  })
})
