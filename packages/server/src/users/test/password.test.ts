import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hashPassword, passwordProblem, verifyAgainstDummy, verifyPassword } from '../index.js'

void test('hashes with argon2id and verifies only the right password', async () => {
  const hash = await hashPassword('correct horse battery')
  assert.match(hash, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/)
  assert.equal(await verifyPassword(hash, 'correct horse battery'), true)
  assert.equal(await verifyPassword(hash, 'wrong horse battery'), false)
  assert.equal(await verifyPassword('not a hash', 'x'), false)
  assert.equal(await verifyAgainstDummy('anything'), false)
})

void test('the password policy names what is wrong', () => {
  assert.match(passwordProblem('short') ?? '', /at least 10/)
  assert.match(passwordProblem('x'.repeat(129)) ?? '', /at most 128/)
  assert.match(passwordProblem('          ') ?? '', /spaces/)
  assert.match(passwordProblem('ada@example.com', 'ADA@example.com') ?? '', /email/)
  assert.equal(passwordProblem('a long enough passphrase', 'ada@example.com'), null)
})
