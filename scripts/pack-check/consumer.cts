// The same flow from CommonJS: require() of the ES-module packages (require(esm),
// Node.js >= 20.19). Compiled with `strict` against the installed types.
import crypto = require('node:crypto')
import core = require('@tessera/core')
import redis = require('@tessera/redis')
import verifierPackage = require('@tessera/verifier')

const { randomBytes, randomUUID } = crypto
const { AuthError, createTessera, SigningKeySet } = core
const { RedisSessionStore } = redis
const { createVerifier } = verifierPackage

async function main(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const keyPrefix = process.env.KEY_PREFIX ?? `tessera-test:pack:${randomUUID()}:`
  const store = await RedisSessionStore.connect({ url, keyPrefix })
  const keys = await SigningKeySet.generate({ alg: 'EdDSA' })
  const auth = await createTessera({ store, keys, tokenKey: randomBytes(32), issuer: 'https://auth.test', audience: 'api' })
  const verifier = await createVerifier({ mode: 'strict', keys, issuer: 'https://auth.test', audience: 'api', algorithms: ['EdDSA'], store })
  try {
    const login = await auth.createSession({ userId: 'pack-user-cjs' })
    const claims = await verifier.verify(login.accessToken)
    const next = await auth.refreshSession(login.refreshToken)
    await verifier.verify(next.accessToken)
    await auth.revokeSession(claims.sessionId)
    const refused: unknown = await verifier.verify(next.accessToken).then(
      () => null,
      (err: unknown) => err,
    )
    if (!(refused instanceof AuthError)) throw new Error(`a revoked session's token was not refused with an AuthError: ${String(refused)}`)
    console.log(`cjs: signed in, verified, refreshed, revoked; refused with ${refused.code}`)
  } finally {
    await verifier.close()
    await store.close()
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
