import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sealSigningKeys, signingKeySealingKey, SigningKeysUnreadable, unsealSigningKeys } from '../sealed-signing-keys.js'
import { SigningKeySet } from '../signing-keys.js'

const TOKEN_KEY = Buffer.from('sealed-keys-test-token-key-32-bytes!!')

test('a sealed set opens to the same records and holds no private material in the clear', async () => {
  const set = await SigningKeySet.generate({ alg: 'ES256' })
  await set.rotate({ retireAfterSeconds: 60, alg: 'EdDSA' })
  const records = set.toJSON().keys
  const document = sealSigningKeys(records, signingKeySealingKey(TOKEN_KEY))
  for (const r of records) assert.ok(!document.includes(r.privateJwk.d!), 'private key in the clear')
  assert.deepEqual(unsealSigningKeys(document, signingKeySealingKey(TOKEN_KEY)), records)
})

test('the sealing key is not the token key and differs for another token key', () => {
  const sealing = signingKeySealingKey(TOKEN_KEY)
  assert.equal(sealing.length, 32)
  assert.ok(!sealing.equals(TOKEN_KEY.subarray(0, 32)))
  assert.ok(!sealing.equals(signingKeySealingKey(Buffer.from('another-token-key-of-at-least-32-bytes'))))
})

test('another token key, a record moved to another key id, a tampered seal and junk are all refused', async () => {
  const set = await SigningKeySet.generate()
  const document = sealSigningKeys(set.toJSON().keys, signingKeySealingKey(TOKEN_KEY))
  assert.throws(() => unsealSigningKeys(document, signingKeySealingKey(Buffer.from('another-token-key-of-at-least-32-bytes'))), SigningKeysUnreadable)
  const parsed = JSON.parse(document) as { keys: { keyId: string; sealed: string }[] }
  const moved = structuredClone(parsed)
  moved.keys[0]!.keyId = 'someone-else'
  assert.throws(() => unsealSigningKeys(JSON.stringify(moved), signingKeySealingKey(TOKEN_KEY)), SigningKeysUnreadable)
  const tampered = structuredClone(parsed)
  const raw = Buffer.from(tampered.keys[0]!.sealed, 'base64url')
  raw[20]! ^= 1
  tampered.keys[0]!.sealed = raw.toString('base64url')
  assert.throws(() => unsealSigningKeys(JSON.stringify(tampered), signingKeySealingKey(TOKEN_KEY)), SigningKeysUnreadable)
  for (const junk of ['', 'null', '{"format":"tessera-signing-keys/1","keys":[]}', '{"keys":[{}]}']) {
    assert.throws(() => unsealSigningKeys(junk, signingKeySealingKey(TOKEN_KEY)), SigningKeysUnreadable, junk)
  }
})
