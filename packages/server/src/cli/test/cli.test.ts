// Runs the `tessera` binary as a child process against the shared Redis, with a
// key prefix of its own, and checks what an operator sees: output, JSON and
// exit codes. Sessions are made by an engine in this process on the same prefix.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createClient } from 'redis'
import { createTessera, encodeDeviceMetadata, parseSessionId, type Tessera } from '@tessera/core'
import { freePort, redisStoreForTest, SHARED_REDIS_URL, waitFor } from '../../../../../test/support/redis.js'
import type { RedisSessionStore } from '@tessera/redis'
import { openPostgresUserStore } from '../../users/postgres.js'
import pg from 'pg'
import { eventsCommand } from '../commands/events.js'
import { keysCommand } from '../commands/keys.js'
import { sessionsCommand } from '../commands/sessions.js'
import { statsCommand } from '../commands/stats.js'
import { usersCommand } from '../commands/users.js'
import { FIXTURE_CONNECT_TIMEOUT_MS, SHARED_DATABASE_URL } from '../../../../../test/support/postgres.js'
import { cli, jsonError, startCli, waitForExit } from './run-cli.js'

const DATABASE_URL = SHARED_DATABASE_URL
const CLI_TOKEN_KEY = 'cli-test-token-key-of-at-least-32-bytes'
const CHROME_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'

describe('tessera CLI against real Redis', { concurrency: true }, () => {
  let store: RedisSessionStore
  let cleanup: () => Promise<void>
  let auth: Tessera
  let env: Record<string, string>
  let prefix: string
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-cli-'))

  before(async () => {
    const r = await redisStoreForTest('cli', SHARED_REDIS_URL, { commandTimeoutMs: 15_000 })
    store = r.store
    cleanup = r.cleanup
    prefix = r.prefix
    auth = await createTessera({ store, tokenKey: CLI_TOKEN_KEY })
    env = { REDIS_URL: SHARED_REDIS_URL, TESSERA_REDIS_PREFIX: r.prefix, TESSERA_DATA_DIR: dataDir, TESSERA_TOKEN_KEY: CLI_TOKEN_KEY }
  })

  after(async () => {
    await cleanup()
    rmSync(dataDir, { recursive: true, force: true })
  })

  test('lists a user’s sessions with device, browser and OS, then revokes one so its token is rejected', async () => {
    const laptop = await auth.createSession({ userId: 'u-list', device: { userAgent: CHROME_UA, ip: '203.0.113.7', name: 'Work laptop' } })
    const phone = await auth.createSession({ userId: 'u-list', device: { name: 'Phone' } })

    const listed = await cli(['sessions', 'list', 'u-list', '--json'], env)
    assert.equal(listed.code, 0, listed.stderr)
    const sessions = (JSON.parse(listed.stdout) as { sessions: Record<string, unknown>[] }).sessions
    assert.deepEqual(sessions.map((s) => s.session_id).sort(), [laptop.sessionId, phone.sessionId].sort())
    const shown = sessions.find((s) => s.session_id === laptop.sessionId)!
    assert.equal(shown.device_name, 'Work laptop')
    assert.equal(shown.browser, 'Chrome 120')
    assert.equal(shown.os, 'Linux')
    assert.equal(shown.ip, '203.0.113.7')

    const text = await cli(['sessions', 'list', 'u-list'], env)
    assert.match(text.stdout, /2 live session\(s\)/)
    assert.match(text.stdout, /Work laptop, Chrome 120 on Linux/)

    const revoked = await cli(['sessions', 'revoke', laptop.sessionId], env)
    assert.equal(revoked.code, 0, revoked.stderr)
    assert.match(revoked.stdout, /revoked session/)
    await assert.rejects(auth.verifyAccessToken(laptop.accessToken), { code: 'ERR_SESSION_REVOKED' })
    await auth.verifyAccessToken(phone.accessToken)

    const again = await cli(['sessions', 'revoke', laptop.sessionId, '--json'], env)
    assert.equal(again.code, 3)
    assert.equal(jsonError(again).code, 'ERR_SESSION_NOT_FOUND')
  })

  test('sessions list prints device names and user agents without terminal escapes, even ones stored before they were stripped', async () => {
    const stored = await auth.createSession({ userId: 'u-escape', device: { name: 'Laptop\u001b[2J\u001b]0;owned\u0007', userAgent: 'curl/8.0' } })
    // A session written by an older version, which stored the name raw: put its bytes in place as that version did.
    const older = await auth.createSession({ userId: 'u-escape' })
    const raw = encodeDeviceMetadata({ name: 'Old\u001b[31m\u009b2J\u202ename\r', userAgent: 'evil\u001b]8;;http://x\u0007agent', ip: '', deviceClass: 'default' })
    const client = createClient({ url: SHARED_REDIS_URL })
    await client.connect()
    try {
      await client.hSet(`${prefix}{u-escape}:s`, `${parseSessionId(older.sessionId)!.localId}.`, raw)
    } finally {
      await client.close()
    }
    const text = await cli(['sessions', 'list', 'u-escape'], env)
    assert.equal(text.code, 0, text.stderr)
    assert.doesNotMatch(text.stdout, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u, 'no control or bidi character reaches the terminal')
    assert.match(text.stdout, new RegExp(`${stored.sessionId}  Laptop`))
    assert.match(text.stdout, /Oldname/)
    // JSON escapes what it carries; the stored name itself was cleaned at sign-in.
    const json = JSON.parse((await cli(['sessions', 'list', 'u-escape', '--json'], env)).stdout) as { sessions: { session_id: string; device_name: string }[] }
    assert.equal(json.sessions.find((s) => s.session_id === stored.sessionId)?.device_name, 'Laptop')
  })

  test('revoke-all ends every session; ban refuses sign-in until unban', async () => {
    const a = await auth.createSession({ userId: 'u-ban' })
    await auth.createSession({ userId: 'u-ban' })
    const all = await cli(['users', 'revoke-all', 'u-ban', '--json'], env)
    assert.equal(all.code, 0, all.stderr)
    assert.equal((JSON.parse(all.stdout) as { sessions_revoked: number }).sessions_revoked, 2)
    await assert.rejects(auth.verifyAccessToken(a.accessToken), { code: 'ERR_ACCESS_TOKEN_REVOKED' })

    await auth.createSession({ userId: 'u-ban' })
    const ban = await cli(['users', 'ban', 'u-ban', '--until', '2h', '--reason', 'abuse', '--json'], env)
    assert.equal(ban.code, 0, ban.stderr)
    const banned = JSON.parse(ban.stdout) as { banned: boolean; until: string; sessions_revoked: number }
    assert.equal(banned.sessions_revoked, 1)
    assert.ok(Math.abs(Date.parse(banned.until) - (Date.now() + 7_200_000)) < 60_000)
    await assert.rejects(auth.createSession({ userId: 'u-ban' }), { code: 'ERR_USER_BANNED' })
    assert.equal((await auth.getUserState('u-ban')).banReason, 'abuse')

    const unban = await cli(['users', 'unban', 'u-ban'], env)
    assert.equal(unban.code, 0, unban.stderr)
    assert.match(unban.stdout, /unbanned user u-ban/)
    await auth.createSession({ userId: 'u-ban' })
    const twice = await cli(['users', 'unban', 'u-ban', '--json'], env)
    assert.deepEqual(JSON.parse(twice.stdout), { user_id: 'u-ban', unbanned: false })
  })

  test('events tail prints revocations and refresh-token reuse live, one JSON line each', async () => {
    const tail = startCli(['events', 'tail', '--json', '--user', 'u-tail', '--count', '2'], env)
    try {
      await waitFor(() => tail.run.stderr.includes('following'), 180_000)
      const s = await auth.createSession({ userId: 'u-tail' })
      const next = await auth.refreshSession(s.refreshToken)
      await auth.refreshSession(next.refreshToken)
      // The first token is two generations old: presenting it is reuse, and the session is revoked.
      await assert.rejects(auth.refreshSession(s.refreshToken), { code: 'ERR_REFRESH_TOKEN_REUSED' })
      await auth.banUser('u-tail')
      const finished = await waitForExit(tail, 180_000)
      assert.equal(finished.code, 0, finished.stderr)
      const lines = finished.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
      assert.deepEqual(
        lines.map((l) => [l.type, l.user_id]),
        [
          ['refresh_reuse_detected', 'u-tail'],
          ['user_banned', 'u-tail'],
        ],
      )
      assert.equal(lines[0]!.session_id, s.sessionId)
    } finally {
      tail.child.kill('SIGKILL')
    }
  })

  test('stats reports the revocation log, Redis memory and bytes per live session', async () => {
    for (let i = 0; i < 3; i++) await auth.createSession({ userId: 'u-stats', device: { userAgent: CHROME_UA, name: `device ${i}` } })
    // Its own revocation, so the log is not empty whatever order the concurrent tests run in.
    const revoked = await auth.createSession({ userId: 'u-stats', device: { userAgent: CHROME_UA, name: 'revoked' } })
    await auth.revokeSession(revoked.sessionId)
    const stats = await cli(['stats', '--user', 'u-stats', '--json'], env)
    assert.equal(stats.code, 0, stats.stderr)
    const report = JSON.parse(stats.stdout) as {
      revocation_log: { length: number }
      redis: { used_memory_bytes: number }
      sample: { live_sessions: number; bytes_per_session: number }
    }
    assert.ok(report.revocation_log.length > 0)
    assert.ok(report.redis.used_memory_bytes > 0)
    assert.equal(report.sample.live_sessions, 3)
    assert.ok(report.sample.bytes_per_session > 50 && report.sample.bytes_per_session < 2000, String(report.sample.bytes_per_session))
    const text = await cli(['stats', '--user', 'u-stats'], env)
    assert.match(text.stdout, /memory per session\s+\d+ bytes/)
  })

  test('keys generate, list and rotate manage the data dir key set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-keys-'))
    const keysEnv = { TESSERA_DATA_DIR: dir, ACCESS_TOKEN_TTL: '600' }
    try {
      const missing = await cli(['keys', 'list', '--json'], keysEnv)
      assert.equal(missing.code, 3)
      assert.equal(jsonError(missing).code, 'ERR_KEYS_MISSING')

      const generated = await cli(['keys', 'generate', '--alg', 'EdDSA', '--json'], keysEnv)
      assert.equal(generated.code, 0, generated.stderr)
      const first = (JSON.parse(generated.stdout) as { keys: { key_id: string; alg: string }[] }).keys
      assert.equal(first.length, 1)
      assert.equal(first[0]!.alg, 'EdDSA')
      assert.doesNotMatch(generated.stdout, /"d"/, 'no private key material in listings')

      const exists = await cli(['keys', 'generate'], keysEnv)
      assert.equal(exists.code, 2)
      assert.match(exists.stderr, /already exists/)

      const rotated = await cli(['keys', 'rotate', '--json'], keysEnv)
      assert.equal(rotated.code, 0, rotated.stderr)
      const keys = (JSON.parse(rotated.stdout) as { keys: { key_id: string; current: boolean; retires_at: string | null }[] }).keys
      assert.equal(keys.length, 2)
      const old = keys.find((k) => k.key_id === first[0]!.key_id)!
      assert.equal(old.current, false)
      assert.ok(Math.abs(Date.parse(old.retires_at!) - (Date.now() + 600_000)) < 60_000, 'the old key verifies for one access-token lifetime')

      const listed = await cli(['keys', 'list'], keysEnv)
      assert.match(listed.stdout, /current/)
      assert.match(listed.stdout, /retiring/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('with Redis, keys list and rotate act on the fleet key set in the store, which a running server picks up', async () => {
    // The test process's own store is the fixture here, not the thing tested: the CLI subprocesses
    // around it stalled its event loop past the 1 s limit in CI (waited 1094 ms at load 6-7).
    const r = await redisStoreForTest('cli-keys', SHARED_REDIS_URL, { commandTimeoutMs: 15_000 })
    const tokenKey = 'cli-keys-test-token-key-of-at-least-32-bytes'
    const server = await createTessera({ store: r.store, tokenKey, sharedKeys: { pollIntervalMs: 60_000 } })
    const keysEnv = { REDIS_URL: SHARED_REDIS_URL, TESSERA_REDIS_PREFIX: r.prefix, TESSERA_DATA_DIR: dataDir, TESSERA_TOKEN_KEY: tokenKey, ACCESS_TOKEN_TTL: '600' }
    try {
      const listed = await cli(['keys', 'list', '--json'], keysEnv)
      assert.equal(listed.code, 0, listed.stderr)
      assert.deepEqual((JSON.parse(listed.stdout) as { keys: { key_id: string }[] }).keys.map((k) => k.key_id), server.keys.keyIds())

      const rotated = await cli(['keys', 'rotate', '--json'], keysEnv)
      assert.equal(rotated.code, 0, rotated.stderr)
      assert.doesNotMatch(rotated.stdout, /"d"/, 'no private key material in listings')
      const keys = (JSON.parse(rotated.stdout) as { keys: { key_id: string; current: boolean }[] }).keys
      assert.equal(keys.length, 2)
      const current = keys.find((k) => k.current)!.key_id
      await server.refreshSigningKeys()
      assert.equal(server.keys.current().keyId, current)

      const wrongKey = await cli(['keys', 'list', '--json'], { ...keysEnv, TESSERA_TOKEN_KEY: 'not-the-fleet-token-key-but-32-bytes-long' })
      assert.equal(wrongKey.code, 1)
      assert.match(jsonError(wrongKey).message, /token key/)
    } finally {
      await server.close()
      await r.cleanup()
    }
  })

  test('finds a user by email in the PostgreSQL user database', async () => {
    const schema = `t_cli_${randomBytes(5).toString('hex')}`
    const admin = new pg.Client({ connectionString: DATABASE_URL })
    await admin.connect()
    await admin.query(`CREATE SCHEMA ${schema}`)
    const emptySchema = `${schema}_empty`
    await admin.query(`CREATE SCHEMA ${emptySchema}`)
    try {
      const users = await openPostgresUserStore({ url: DATABASE_URL, schema, connectTimeoutMs: FIXTURE_CONNECT_TIMEOUT_MS })
      const user = await users.createUser({ email: 'ada@example.com', passwordHash: 'not-a-real-hash' }).finally(() => users.close())
      await auth.createSession({ userId: user.userId, device: { name: 'Ada laptop' } })
      // The schema the server uses, set as an operator sets it for `tessera serve`.
      const dbEnv = { ...env, DATABASE_URL, TESSERA_DATABASE_SCHEMA: schema }
      const publicTables = async () =>
        (await admin.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'tessera%' ORDER BY 1")).rows.map((r) => r.tablename)
      const publicBefore = await publicTables()
      const tail = startCli(['events', 'tail', '--json', '--user', 'ada@example.com', '--count', '1'], dbEnv)
      const [listed, unknown, noDb, unknownId, unknownEmail, stats, noSchema, inPublic] = await Promise.all([
        cli(['sessions', 'list', 'ADA@example.com', '--json'], dbEnv),
        cli(['users', 'revoke-all', 'nobody@example.com', '--json'], dbEnv),
        cli(['users', 'revoke-all', 'ada@example.com', '--json'], env),
        cli(['sessions', 'list', 'no-such-user-id', '--json'], dbEnv),
        cli(['sessions', 'list', 'nobody@example.com', '--json'], dbEnv),
        cli(['stats', '--user', 'ada@example.com', '--json'], dbEnv),
        // A schema no server migrated (a mistyped TESSERA_DATABASE_SCHEMA): a clear failure, and no table made there.
        cli(['sessions', 'list', 'ada@example.com', '--json'], { ...env, DATABASE_URL, TESSERA_DATABASE_SCHEMA: emptySchema }),
        // Without the schema the look-up reads `public` (whatever is there), and creates nothing in it.
        cli(['sessions', 'list', 'ada@example.com', '--json'], { ...env, DATABASE_URL }),
      ])
      assert.equal(noSchema.code, 1, noSchema.stderr)
      assert.equal(jsonError(noSchema).code, 'ERR_USER_TABLE_MISSING')
      assert.match(jsonError(noSchema).message, new RegExp(`schema ${emptySchema}.*TESSERA_DATABASE_SCHEMA`))
      assert.deepEqual((await admin.query(`SELECT tablename FROM pg_tables WHERE schemaname = '${emptySchema}'`)).rows, [], 'a look-up creates no tables')
      assert.notEqual(inPublic.code, 0)
      assert.deepEqual(await publicTables(), publicBefore, 'CLI look-ups create no tables in public')
      // An unknown id and an unknown email: the same exit code, error code and message shape.
      for (const [run, what] of [
        [unknownId, 'id no-such-user-id'],
        [unknownEmail, 'email nobody@example.com'],
      ] as const) {
        assert.equal(run.code, 3, run.stderr)
        assert.deepEqual(jsonError(run), { code: 'ERR_USER_NOT_FOUND', message: `no user with ${what}` })
      }
      assert.equal(stats.code, 0, stats.stderr)
      assert.deepEqual((JSON.parse(stats.stdout) as { sample: { users: { user_id: string }[] } }).sample.users.map((u) => u.user_id), [user.userId])
      // events tail --user <email> follows that user's id (it used to wait forever for events naming the email).
      await waitFor(() => tail.run.stderr.includes('following'), 180_000)
      const ended = await auth.createSession({ userId: user.userId })
      await auth.revokeSession(ended.sessionId)
      const tailed = await waitForExit(tail, 180_000).finally(() => tail.child.kill('SIGKILL'))
      assert.equal(tailed.code, 0, tailed.stderr)
      const event = JSON.parse(tailed.stdout) as { type: string; user_id: string; session_id: string }
      assert.deepEqual([event.type, event.user_id, event.session_id], ['session_revoked', user.userId, ended.sessionId])
      assert.equal(listed.code, 0, listed.stderr)
      const body = JSON.parse(listed.stdout) as { user_id: string; sessions: { device_name: string }[] }
      assert.equal(body.user_id, user.userId)
      assert.deepEqual(body.sessions.map((x) => x.device_name), ['Ada laptop'])
      assert.equal(unknown.code, 3)
      assert.equal(jsonError(unknown).code, 'ERR_USER_NOT_FOUND')
      assert.equal(noDb.code, 2)
      assert.equal(jsonError(noDb).code, 'ERR_DATABASE_REQUIRED')
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`)
      await admin.query(`DROP SCHEMA ${emptySchema} CASCADE`)
      await admin.end()
    }
  })

  test('fails clearly with a non-zero exit code on bad usage, missing REDIS_URL and unreachable Redis', async () => {
    const deadPort = await freePort()
    const [noRedis, down, dbDown, badId, badUntil, unknown] = await Promise.all([
      cli(['sessions', 'list', 'u1', '--json'], { TESSERA_DATA_DIR: dataDir }),
      cli(['users', 'revoke-all', 'u1', '--json'], { ...env, REDIS_URL: `redis://127.0.0.1:${deadPort}` }),
      cli(['sessions', 'list', 'ada@example.com', '--json'], { ...env, DATABASE_URL: `postgres://postgres@127.0.0.1:${deadPort}/test` }),
      cli(['sessions', 'revoke', 'not-a-session', '--json'], env),
      cli(['users', 'ban', 'u1', '--until', 'tomorrow'], env),
      cli(['users', 'frobnicate'], env),
    ])
    assert.equal(noRedis.code, 2)
    assert.equal(jsonError(noRedis).code, 'ERR_REDIS_REQUIRED')
    assert.match(jsonError(noRedis).message, /needs REDIS_URL/)
    assert.equal(down.code, 1)
    assert.equal(jsonError(down).code, 'ERR_STORE_UNAVAILABLE')
    assert.match(jsonError(down).message, /cannot reach Redis/)
    assert.equal(dbDown.code, 1)
    assert.equal(jsonError(dbDown).code, 'ERR_DATABASE_UNAVAILABLE')
    assert.match(jsonError(dbDown).message, /cannot reach the user database/)
    assert.equal(badId.code, 2)
    assert.equal(jsonError(badId).code, 'ERR_INVALID_INPUT')
    assert.equal(badUntil.code, 2)
    assert.match(badUntil.stderr, /expected a duration/)
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown command/)
    for (const run of [noRedis, down, dbDown, badId, badUntil, unknown]) assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack traces')
  })

  test('--json covers usage errors too: one JSON error object on stderr, exit 2', async () => {
    const [unknownCommand, unknownOption, missingArgument] = await Promise.all([
      cli(['users', 'frobnicate', '--json'], env),
      cli(['sessions', 'list', 'u1', '--bogus', '--json'], env),
      cli(['sessions', 'list', '--json'], env),
    ])
    for (const [run, message] of [
      [unknownCommand, /unknown command 'frobnicate'/],
      [unknownOption, /unknown option '--bogus'/],
      [missingArgument, /missing required argument 'user'/],
    ] as const) {
      assert.equal(run.code, 2, run.stderr)
      assert.equal(run.stdout, '')
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr)
      assert.equal(jsonError(run).code, 'ERR_USAGE')
      assert.match(jsonError(run).message, message)
    }
  })

  test('stats counts keys only in its own Redis database, never in other applications\' databases', async () => {
    const own = Number(new URL(SHARED_REDIS_URL).pathname.slice(1) || 0)
    const other = (own + 1) % 16
    const otherUrl = new URL(SHARED_REDIS_URL)
    otherUrl.pathname = `/${other}`
    // One short-lived key of ours in the next database, standing in for another application's data.
    const client = createClient({ url: otherUrl.toString() })
    await client.connect()
    const key = `${prefix}other-app`
    await client.set(key, 'x', { EX: 120 })
    try {
      const stats = await cli(['stats', '--json'], env)
      assert.equal(stats.code, 0, stats.stderr)
      const report = JSON.parse(stats.stdout) as { redis: { keyspace: Record<string, { keys: number }> } }
      assert.deepEqual(Object.keys(report.redis.keyspace), [`db${own}`])
      const text = await cli(['stats'], env)
      assert.doesNotMatch(text.stdout, new RegExp(`db${other}:`))
      assert.match(text.stdout, new RegExp(`db${own}: \\d+ keys`))
    } finally {
      await client.del(key)
      await client.quit()
    }
  })

  test('every command answers --help with its usage, --json option and exit code 0', async () => {
    const run = await cli(['users', 'ban', '--help'], {})
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /Usage: tessera users ban \[options\] <user>/)
    // The rest in process: spawning a dozen processes only to print help would cost seconds.
    const leaves = [keysCommand(), sessionsCommand(), usersCommand(), eventsCommand(), statsCommand()].flatMap((c) => (c.commands.length > 0 ? c.commands : [c]))
    assert.equal(leaves.length, 10)
    for (const leaf of leaves) {
      assert.match(leaf.helpInformation(), /--json/, leaf.name())
      assert.ok(leaf.description().length > 10, leaf.name())
    }
  })

})
