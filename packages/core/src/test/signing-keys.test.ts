import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { SIGNING_ALGORITHMS, SigningKeySet } from '../signing-keys.js'

const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-keys-'))
  dirs.push(dir)
  return dir
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

describe('SigningKeySet', () => {
  for (const alg of SIGNING_ALGORITHMS) {
    test(`generates a ${alg} key that publishes ${alg === 'HS256' ? 'nothing' : 'its public half'} in the JWKS`, async () => {
      const keys = await SigningKeySet.generate({ alg })
      assert.equal(keys.current().alg, alg)
      const jwks = keys.publicJwks()
      if (alg === 'HS256') return assert.deepEqual(jwks, { keys: [] })
      assert.equal(jwks.keys.length, 1)
      const [jwk] = jwks.keys
      assert.equal(jwk?.kid, keys.current().keyId)
      assert.equal(jwk?.alg, alg)
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal(Object.hasOwn(jwk ?? {}, secret), false, `leaks ${secret}`)
    })
  }

  test('rotation: the new key signs, the old one verifies and stays published until it retires', async () => {
    const keys = await SigningKeySet.generate({ nowMs: 1000 })
    const old = keys.current().keyId
    const { keyId } = await keys.rotate({ retireAfterSeconds: 900, nowMs: 2000 })
    assert.equal(keys.current().keyId, keyId)
    assert.ok(keys.verificationKey(old, 2000))
    assert.deepEqual(keys.publicJwks(2000).keys.map((k) => k.kid), [keyId, old])
    assert.equal(keys.verificationKey(old, 2000 + 900_000), undefined)
    assert.deepEqual(keys.publicJwks(2000 + 900_000).keys.map((k) => k.kid), [keyId])
    keys.prune(2000 + 900_000)
    assert.deepEqual(keys.keyIds(), [keyId])
  })

  test('rotation can change the algorithm', async () => {
    const keys = await SigningKeySet.generate({ alg: 'ES256' })
    await keys.rotate({ alg: 'EdDSA', retireAfterSeconds: 60 })
    assert.equal(keys.current().alg, 'EdDSA')
    assert.deepEqual(new Set(keys.algorithms()), new Set(['ES256', 'EdDSA']))
  })

  test('saves privately and loads the same keys back', async () => {
    const dir = tempDir()
    const created = await SigningKeySet.loadOrCreate(dir)
    assert.equal(statSync(join(dir, 'signing-keys.json')).mode & 0o077, 0)
    const loaded = await SigningKeySet.loadOrCreate(dir)
    assert.equal(loaded.current().keyId, created.current().keyId)
    assert.deepEqual(loaded.publicJwks(), created.publicJwks())
  })

  test('separate processes pointed at the same key material agree on every key and the current one', async () => {
    const dir = tempDir()
    const keys = await SigningKeySet.loadOrCreate(dir)
    await keys.rotate({ retireAfterSeconds: 600 })
    await keys.save(dir)
    const script = `import { SigningKeySet } from ${JSON.stringify(new URL('../signing-keys.ts', import.meta.url).href)}
      const k = await SigningKeySet.loadOrCreate(${JSON.stringify(dir)}); console.log(JSON.stringify({ current: k.current().keyId, jwks: k.publicJwks() }))`
    const outputs = [0, 1].map(() => spawnSync(process.execPath, ['--conditions=tessera-source', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' }))
    for (const out of outputs) assert.equal(out.status, 0, out.stderr)
    const [a, b] = outputs.map((o) => JSON.parse(o.stdout.trim()))
    assert.deepEqual(a, b)
    assert.equal(a.current, keys.current().keyId)
    assert.deepEqual(a.jwks, keys.publicJwks())
  })

  test('loads from the JSON of an environment variable and refuses malformed input with a TypeError', async () => {
    const keys = await SigningKeySet.generate({ alg: 'EdDSA' })
    const copy = await SigningKeySet.fromJSON(JSON.stringify(keys.toJSON()))
    assert.equal(copy.current().keyId, keys.current().keyId)
    await assert.rejects(SigningKeySet.fromJSON('not json'), TypeError)
    await assert.rejects(SigningKeySet.fromJSON('{"keys":[]}'), TypeError)
    await assert.rejects(SigningKeySet.fromJSON('{"keys":[{"keyId":"x","alg":"none","privateJwk":{}}]}'), TypeError)
    await assert.rejects(SigningKeySet.generate({ alg: 'none' as never }), TypeError)
  })
})
