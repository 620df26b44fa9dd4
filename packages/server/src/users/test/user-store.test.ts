import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { EmailTaken, normaliseEmail, openEmbeddedUserStore, openPostgresUserStore, type UserStore } from '../index.js'
import { SHARED_DATABASE_URL } from '../../../../../test/support/postgres.js'

const DATABASE_URL = SHARED_DATABASE_URL

function contract(name: string, open: () => Promise<UserStore>) {
  void describe(name, () => {
    let users: UserStore
    before(async () => {
      users = await open()
    })
    after(async () => {
      await users.close()
    })

    void test('creates a user under the normalised email and finds it by email and id', async () => {
      const created = await users.createUser({ email: '  Ada@Example.COM ', passwordHash: 'h1' })
      assert.equal(created.email, 'ada@example.com')
      assert.equal(created.emailVerified, false)
      assert.deepEqual(await users.findByEmail('ADA@example.com'), created)
      assert.deepEqual(await users.findById(created.userId), created)
    })

    void test('refuses a second account for the same email whatever its case', async () => {
      await users.createUser({ email: 'dup@example.com', passwordHash: 'h' })
      await assert.rejects(users.createUser({ email: 'DUP@example.com', passwordHash: 'h' }), (err: unknown) => err instanceof EmailTaken && err.code === 'ERR_EMAIL_TAKEN')
    })

    void test('changes the password hash and marks the email verified', async () => {
      const user = await users.createUser({ email: 'grace@example.com', passwordHash: 'old' })
      assert.equal(await users.setPasswordHash(user.userId, 'new'), true)
      assert.equal(await users.setEmailVerified(user.userId), true)
      const after = await users.findById(user.userId)
      assert.equal(after?.passwordHash, 'new')
      assert.equal(after?.emailVerified, true)
      assert.equal(await users.setPasswordHash('no-such-user', 'x'), false)
    })

    void test('answers null for unknown or malformed lookups', async () => {
      assert.equal(await users.findByEmail('nobody@example.com'), null)
      assert.equal(await users.findByEmail('not an email'), null)
      assert.equal(await users.findById('nope'), null)
      await users.ping()
    })
  })
}

const schema = `t_${randomBytes(6).toString('hex')}`
const admin = new pg.Client({ connectionString: DATABASE_URL })
before(async () => {
  await admin.connect()
  await admin.query(`CREATE SCHEMA ${schema}`)
})
after(async () => {
  await admin.query(`DROP SCHEMA ${schema} CASCADE`)
  await admin.end()
})

contract('PostgreSQL user store', () => openPostgresUserStore({ url: DATABASE_URL, schema }))

const dir = mkdtempSync(join(tmpdir(), 'tessera-users-'))
after(() => rmSync(dir, { recursive: true, force: true }))
contract('embedded user store', () => openEmbeddedUserStore(join(dir, 'db')))

void test('the embedded store keeps users across a restart', async () => {
  // Reopens the contract suite's database (closed by now): a fresh one costs a slow initdb.
  const reopened = await openEmbeddedUserStore(join(dir, 'db'))
  try {
    assert.equal((await reopened.findByEmail('ada@example.com'))?.email, 'ada@example.com')
    await reopened.createUser({ email: 'kept@example.com', passwordHash: 'h' })
  } finally {
    await reopened.close()
  }
})

void test('migrations run once even when two PostgreSQL stores open at the same time', async () => {
  const [a, b] = await Promise.all([openPostgresUserStore({ url: DATABASE_URL, schema }), openPostgresUserStore({ url: DATABASE_URL, schema })])
  await a.close()
  await b.close()
  const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${schema}.tessera_schema_migrations`)
  assert.equal(rows[0].n, 1)
})

void test('normaliseEmail trims, lower-cases and rejects implausible addresses', () => {
  assert.equal(normaliseEmail(' A@B.Co '), 'a@b.co')
  assert.equal(normaliseEmail('a@b'), null)
  assert.equal(normaliseEmail('a b@c.d'), null)
  assert.equal(normaliseEmail(42), null)
})
