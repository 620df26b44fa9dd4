// A token and the DPoP proof it came with are checked together
// (verifyMaybeSync(token, presentation), what every adapter's decision uses):
// in strict mode the proof's replay-cache write goes out beside the token's
// store check, one wait instead of two in a row, and the token's own verdict
// still wins when both fail.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { MemoryStore, SigningKeySet, type DpopPresentation, type SessionStore, type Tessera } from '@tessera/core'
import { craftProof, newDpopKey, proof, type KeyPair } from '../../../../test/support/dpop.js'
import { type Verifier } from '../verifier.js'
import { createVerifier } from '../create-verifier.js'
import { AUDIENCE, ISSUER, rejectsWith, tesseraFor } from './fixtures.js'

const URL_ = 'https://api.test/me'
/**
 * The memory store, recording when a strict check starts and answers (a
 * macrotask later, like a reply from Redis) and when a proof's replay write is
 * asked for.
 */
function storeRecordingOrder(inner: MemoryStore) {
  const events: string[] = []
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      if (name === 'checkAccessToken') {
        return async (request: Parameters<SessionStore['checkAccessToken']>[0]) => {
          events.push('check')
          await new Promise((resolve) => setImmediate(resolve))
          const status = await target.checkAccessToken(request)
          events.push('check answered')
          return status
        }
      }
      if (name === 'markDpopProofUsed') {
        return (request: Parameters<SessionStore['markDpopProofUsed']>[0]) => {
          events.push('mark')
          return target.markDpopProofUsed(request)
        }
      }
      const value: unknown = Reflect.get(target, name, receiver)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
  return { store: store as SessionStore, events }
}

describe('a token and its DPoP proof checked together', () => {
  const memory = new MemoryStore()
  const { store, events } = storeRecordingOrder(memory)
  let keys: SigningKeySet
  let tessera: Tessera
  let verifier: Verifier
  let key: KeyPair

  const presented = async (accessToken: string, options: { proofFor?: string } = {}): Promise<DpopPresentation> => ({
    proof: await proof(key, 'GET', options.proofFor ?? URL_, { accessToken }),
    method: 'GET',
    url: URL_,
  })
  const boundSession = async () =>
    tessera.createSession({ userId: 'alice', dpop: { proof: await proof(key, 'POST', 'https://auth.test/auth/login'), method: 'POST', url: 'https://auth.test/auth/login' } })

  before(async () => {
    keys = await SigningKeySet.generate({ alg: 'ES256' })
    tessera = await tesseraFor(memory, keys)
    verifier = await createVerifier({ mode: 'strict', keys, issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], store, dpop: {} })
    key = await newDpopKey()
  })
  after(async () => {
    await verifier.close()
    await memory.close()
  })

  test("strict mode: the proof's replay write goes out while the store check is pending, and a replay is still refused", async () => {
    const { accessToken } = await boundSession()
    const presentation = await presented(accessToken)
    assert.equal((await verifier.verifyMaybeSync(accessToken, presentation)).userId, 'alice')
    assert.ok(events.indexOf('mark') >= 0 && events.indexOf('mark') < events.indexOf('check answered'), events.join(', '))
    await rejectsWith(Promise.resolve().then(() => verifier.verifyMaybeSync(accessToken, presentation)), 'ERR_DPOP_PROOF_INVALID', 'replay')
  })

  test("the token's verdict wins: a revoked session with a bad proof is refused as revoked, a live one as a bad proof", async () => {
    const live = await boundSession()
    const revoked = await boundSession()
    await tessera.revokeSession(revoked.sessionId)
    const other = 'https://api.test/other'
    await rejectsWith(Promise.resolve().then(async () => verifier.verifyMaybeSync(revoked.accessToken, await presented(revoked.accessToken, { proofFor: other }))), 'ERR_SESSION_REVOKED', 'revoked')
    await rejectsWith(Promise.resolve().then(async () => verifier.verifyMaybeSync(live.accessToken, await presented(live.accessToken, { proofFor: other }))), 'ERR_DPOP_PROOF_INVALID', 'live')
    // A bound token sent as Bearer (presentation null) and a proof signed by another key: refused, whatever the store says.
    await rejectsWith(Promise.resolve().then(() => verifier.verifyMaybeSync(live.accessToken, null)), 'ERR_DPOP_KEY_MISMATCH', 'as Bearer')
    const stranger = { proof: await craftProof({ url: URL_, accessToken: live.accessToken }), method: 'GET', url: URL_ }
    await rejectsWith(Promise.resolve().then(() => verifier.verifyMaybeSync(live.accessToken, stranger)), 'ERR_DPOP_KEY_MISMATCH', 'another key')
  })
})
