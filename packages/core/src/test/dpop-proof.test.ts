// The proof checker against proofs from a stock client (panva's `dpop`) and
// against the attack table of issue 15, one refusal per row.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { calculateThumbprint, craftProof, newDpopKey, proof } from '../../../../test/support/dpop.js'
import { resolveDpopOptions, type DpopOptions } from '../dpop/dpop-options.js'
import { DpopProofChecker, MAX_DPOP_PROOF_LENGTH, type DpopPresentation } from '../dpop/dpop-proof.js'
import { normaliseHtu } from '../dpop/request-url.js'
import type { AuthErrorCode } from '../errors.js'
import { MemoryStore } from '../memory-store.js'

const URL = 'https://api.example/orders'

function checker(options: DpopOptions = {}, store = new MemoryStore()): DpopProofChecker {
  return new DpopProofChecker(resolveDpopOptions(options), store)
}

function refusedWith(code: AuthErrorCode, message?: RegExp) {
  return (err: unknown) => {
    assert.equal((err as { code?: string }).code, code, (err as Error).message)
    if (message) assert.match((err as Error).message, message)
    return true
  }
}

const at = (p: string, method = 'GET', url = URL): DpopPresentation => ({ proof: p, method, url })

describe('DPoP proof checker', () => {
  test('accepts a stock proof and computes the RFC 7638 thumbprint the client computes', async () => {
    const key = await newDpopKey()
    const result = await checker().check(at(await proof(key, 'GET', URL)), {}, Date.now())
    assert.equal(result.thumbprint, await calculateThumbprint(key.publicKey))
  })

  test('accepts Ed25519 and RS256 proofs from the stock client', async () => {
    const { generateKeyPair, generateProof } = await import('dpop')
    for (const alg of ['Ed25519', 'RS256', 'PS256'] as const) {
      const key = await generateKeyPair(alg)
      const p = await generateProof(key, URL, 'POST')
      assert.equal((await checker().check(at(p, 'POST'), {}, Date.now())).thumbprint, await calculateThumbprint(key.publicKey))
    }
  })

  test('ignores query and fragment and normalises the URL as RFC 3986 says', async () => {
    const key = await newDpopKey()
    const p = await proof(key, 'GET', 'HTTPS://API.example:443/a/./b/../%7eorders')
    await checker().check(at(p, 'GET', 'https://api.example/a/~orders?page=2#top'), {}, Date.now())
    assert.equal(normaliseHtu('http://h:80/%2f%41'), 'http://h/%2FA')
    assert.equal(normaliseHtu('ftp://h/'), null)
  })

  test('refuses a replayed proof, on the same checker and on another one sharing the store', async () => {
    const store = new MemoryStore()
    const key = await newDpopKey()
    const p = await proof(key, 'GET', URL)
    await checker({}, store).check(at(p), {}, Date.now())
    await assert.rejects(checker({}, store).check(at(p), {}, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID', /already used/))
  })

  test('refuses a proof for another method or another URL', async () => {
    const key = await newDpopKey()
    await assert.rejects(checker().check(at(await proof(key, 'POST', URL)), {}, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID', /htm/))
    await assert.rejects(checker().check(at(await proof(key, 'GET', 'https://api.example/other')), {}, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID', /htu/))
    await assert.rejects(checker().check(at(await proof(key, 'GET', 'https://evil.example/orders')), {}, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID', /htu/))
  })

  test('refuses a proof that is too old or from the future', async () => {
    const now = Date.now()
    const old = await craftProof({ url: URL, iatSeconds: Math.floor(now / 1000) - 61 })
    await assert.rejects(checker().check(at(old), {}, now), refusedWith('ERR_DPOP_PROOF_INVALID', /too old/))
    const future = await craftProof({ url: URL, iatSeconds: Math.floor(now / 1000) + 30 })
    await assert.rejects(checker().check(at(future), {}, now), refusedWith('ERR_DPOP_PROOF_INVALID', /future/))
  })

  test('refuses a proof signed by another key than the token is bound to', async () => {
    const bound = await newDpopKey()
    const other = await newDpopKey()
    const thumbprint = await calculateThumbprint(bound.publicKey)
    const p = await proof(other, 'GET', URL, { accessToken: 'token' })
    assert.throws(() => checker().verify(at(p), { accessToken: 'token', thumbprint }, Date.now()), refusedWith('ERR_DPOP_KEY_MISMATCH'))
  })

  test('refuses a proof whose ath is the hash of another token', async () => {
    const key = await newDpopKey()
    const p = await proof(key, 'GET', URL, { accessToken: 'another token' })
    assert.throws(() => checker().verify(at(p), { accessToken: 'this token' }, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID', /ath/))
    const none = await proof(key, 'GET', URL)
    assert.throws(() => checker().verify(at(none), { accessToken: 'this token' }, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID', /ath/))
  })

  test('refuses symmetric and unsigned proofs', async () => {
    assert.throws(() => checker().verify(at(craftSync.hs256), {}, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID', /algorithm/))
    assert.throws(() => checker().verify(at(craftSync.none), {}, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID', /algorithm/))
  })

  test('refuses a private key in the jwk header', async () => {
    const p = await craftProof({ url: URL, privateJwk: true })
    assert.throws(() => checker().verify(at(p), {}, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID', /public/))
  })

  test('refuses an oversized proof before parsing it, and several DPoP headers', async () => {
    const p = await craftProof({ url: URL, padding: MAX_DPOP_PROOF_LENGTH })
    assert.throws(() => checker().verify(at(p), {}, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID', /too long/))
    const key = await newDpopKey()
    const good = await proof(key, 'GET', URL)
    assert.throws(() => checker().verify({ proof: [good, good], method: 'GET', url: URL }, {}, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID', /exactly one/))
  })

  test('refuses a wrong typ, a signature by another key than the header names, and garbage', async () => {
    assert.throws(() => checker().verify(at(craftSync.typ), {}, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID', /typ/))
    assert.throws(() => checker().verify(at(craftSync.otherKey), {}, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID', /signature/))
    for (const junk of ['', 'a.b', 'a.b.c', '..', `${'e'.repeat(10)}.${'e'.repeat(10)}.`]) {
      assert.throws(() => checker().verify(at(junk), {}, Date.now()), refusedWith('ERR_DPOP_PROOF_INVALID'))
    }
  })

  test('with nonces on, a proof without the server nonce gets use_dpop_nonce and a fresh nonce that then works', async () => {
    const c = checker({ nonce: { key: 'a nonce key shared by every instance!!' } })
    const key = await newDpopKey()
    let nonce = ''
    await assert.rejects(c.check(at(await proof(key, 'GET', URL)), {}, Date.now()), (err: unknown) => {
      assert.equal((err as { code?: string }).code, 'ERR_DPOP_NONCE_REQUIRED')
      nonce = (err as { nonce: string }).nonce
      return true
    })
    await c.check(at(await proof(key, 'GET', URL, { nonce })), {}, Date.now())
    // Another instance with the same key accepts it; a nonce from long ago does not pass.
    const sibling = checker({ nonce: { key: 'a nonce key shared by every instance!!' } })
    await sibling.check(at(await proof(key, 'GET', URL, { nonce })), {}, Date.now())
    const stale = sibling.nonce(Date.now() - 3_600_000)!
    await assert.rejects(sibling.check(at(await proof(key, 'GET', URL, { nonce: stale })), {}, Date.now()), refusedWith('ERR_DPOP_NONCE_REQUIRED'))
  })

  test('options are checked once, naming the bad option', () => {
    assert.throws(() => resolveDpopOptions({ algorithms: ['HS256' as never] }), /"dpop.algorithms"/)
    assert.throws(() => resolveDpopOptions({ nonce: { key: 'short' } }), /"dpop.nonce.key"/)
    assert.throws(() => resolveDpopOptions({ maxAgeSeconds: 0 }), /"dpop.maxAgeSeconds"/)
  })
})

// Hand-made attack proofs that do not depend on the time of the test.
const craftSync: Record<'hs256' | 'none' | 'typ' | 'otherKey', string> = {
  hs256: await craftProof({ url: URL, alg: 'HS256' }),
  none: await craftProof({ url: URL, alg: 'none' }),
  typ: await craftProof({ url: URL, typ: 'JWT' }),
  otherKey: await craftProof({ url: URL, signWithOtherKey: true }),
}
