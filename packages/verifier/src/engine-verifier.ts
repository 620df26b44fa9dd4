import type { Tessera } from '@tessera/core'
import { LocalKeySource } from './key-source.js'
import type { VerifierMode } from './options.js'
import { createVerifier } from './create-verifier.js'
import type { Verifier } from './verifier.js'

/**
 * A verifier beside an engine in the same process, on the engine's own keys,
 * store, issuer, audience, algorithms, clock tolerance and clock: the one way
 * the auth server builds the verifier for its protected routes (strict, with
 * the engine's DPoP checker) and for forward-auth (cached). With a shared key
 * set, a token naming a key not seen yet makes the engine look in the store
 * before the token is refused.
 *
 * @example
 * ```ts
 * const verifier = await createEngineVerifier(auth, { mode: 'strict', dpop: true })
 * await app.register(tesseraFastify, { verifier, closeVerifier: true })
 * ```
 */
export async function createEngineVerifier(auth: Tessera, options: { mode: VerifierMode; dpop?: boolean }): Promise<Verifier> {
  const o = auth.options
  return createVerifier({
    mode: options.mode,
    keys: auth.sharesSigningKeys ? new LocalKeySource(auth.keys, { refresh: () => auth.refreshSigningKeys() }) : auth.keys,
    store: auth.store,
    issuer: o.issuer,
    audience: o.audience,
    algorithms: auth.algorithms,
    clockToleranceSeconds: o.clockToleranceSeconds,
    // No revocationTtlMs in cached mode: the verifier keeps each revocation as long as the issuer's heartbeats say its tokens may live.
    clock: o.clock,
    // The engine's own proof checker: same settings and nonces, replay cache in the engine's store.
    ...(options.dpop ? { dpop: auth.dpop } : {}),
  })
}
