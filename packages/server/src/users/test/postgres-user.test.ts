import assert from 'node:assert/strict'
import { userInfo } from 'node:os'
import { test } from 'node:test'
import { defaultDatabaseUser, openPostgresUserStore } from '../postgres.js'

const NO_USER_URL = (process.env.TESSERA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test').replace(/\/\/[^@/]*@/, '//')

void test('a DATABASE_URL without a user name falls back as libpq does: PGUSER, USER, then the OS account', () => {
  assert.equal(defaultDatabaseUser('postgres://db.internal/app', {}), userInfo().username)
  assert.equal(defaultDatabaseUser('postgres://db.internal/app', { USER: 'ops' }), 'ops')
  // node-postgres reads PGUSER and a user in the URL itself
  assert.equal(defaultDatabaseUser('postgres://db.internal/app', { PGUSER: 'pg', USER: 'ops' }), undefined)
  assert.equal(defaultDatabaseUser('postgres://app@db.internal/app', {}), undefined)
})

void test('with no USER in the environment, the connection names the OS account instead of failing before it reaches the server', async (t) => {
  const saved = { USER: process.env.USER, PGUSER: process.env.PGUSER }
  delete process.env.USER
  delete process.env.PGUSER
  t.after(() => {
    for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value
  })
  const os = userInfo().username
  try {
    const users = await openPostgresUserStore({ url: NO_USER_URL, schema: 'public' })
    await users.close()
  } catch (err) {
    // Without the fallback node-postgres sends no user at all ("no PostgreSQL user name specified").
    const message = (err as Error).message
    assert.doesNotMatch(message, /no PostgreSQL user name/)
    assert.match(message, new RegExp(`"${os}"`), message)
  }
})
