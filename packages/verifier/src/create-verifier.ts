import { AuthError, StoreUnavailable } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { LocalKeySource, type KeySource } from './key-source.js'
import { isSigningKeySet, resolveVerifierOptions, type ResolvedVerifierOptions, type VerifierOptions } from './options.js'
import { RemoteJwksKeySource } from './remote-jwks.js'
import { Verifier } from './verifier.js'

/**
 * Makes a verifier: resolves options, loads keys (fetching the JWKS when given
 * a URL), opens the Redis store when given `redis`, and in `cached` mode reads
 * the live revocation log before resolving, so no token is accepted on an
 * empty set.
 *
 * @example
 * ```ts
 * const verifier = await createVerifier({ mode: 'strict', keys: { jwksUrl: 'https://auth.example/.well-known/jwks.json' },
 *   issuer: 'https://auth.example', audience: 'api', algorithms: ['ES256'], store })
 * ```
 */
export async function createVerifier(input: VerifierOptions): Promise<Verifier> {
  const options = resolveVerifierOptions(input)
  const keys = await keySourceFor(options)
  let store = options.store
  // A signature verifier opens the store too when it checks DPoP proofs: the replay cache lives there.
  const ownsStore = !store && options.redis !== null && (options.mode !== 'signature' || options.dpop !== null)
  if (ownsStore) {
    // The store's connection bounds every command with shared-timer deadlines (redis.commandTimeoutMs, default 1000).
    store = await RedisSessionStore.connect(options.redis!)
  }
  const verifier = new Verifier({ options, keys, store, ownsStore })
  try {
    await verifier.start()
  } catch (err) {
    await verifier.close()
    // A TypeError is a setting that disagrees with the issuer's (see Verifier.start()): a configuration error, said as such.
    if (err instanceof AuthError || err instanceof TypeError) throw err
    throw new StoreUnavailable('could not load the revocation log', { cause: err })
  }
  return verifier
}

async function keySourceFor(options: ResolvedVerifierOptions): Promise<KeySource> {
  const keys = options.keys
  if (isSigningKeySet(keys)) return new LocalKeySource(keys)
  if ('jwksUrl' in keys) {
    const { jwksUrl, ...rest } = keys
    return RemoteJwksKeySource.load({ ...rest, url: jwksUrl, algorithms: options.algorithms, nowMs: () => options.clock.nowMs() })
  }
  if (typeof keys.get !== 'function') throw new TypeError('"keys" option must be a SigningKeySet, { jwksUrl } or a KeySource')
  return keys
}
