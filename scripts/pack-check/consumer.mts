// A service as a user writes it against the published packages: sign in, verify,
// refresh, revoke, and the revoked token refused. Compiled with `strict` against
// the installed types; run as an ES module.
import { randomBytes, randomUUID } from 'node:crypto'
import { AuthError, createTessera, SigningKeySet, type AccessTokenClaims } from '@tessera/core'
import { RedisSessionStore } from '@tessera/redis'
import { createVerifier } from '@tessera/verifier'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const keyPrefix = process.env.KEY_PREFIX ?? `tessera-test:pack:${randomUUID()}:`
const issuer = 'https://auth.test'
const audience = 'api'

const store = await RedisSessionStore.connect({ url, keyPrefix })
const keys = await SigningKeySet.generate({ alg: 'ES256' })
const auth = await createTessera({ store, keys, tokenKey: randomBytes(32), issuer, audience })
const verifier = await createVerifier({ mode: 'strict', keys, issuer, audience, algorithms: ['ES256'], store })
try {
  const login = await auth.createSession({ userId: 'pack-user', device: { name: 'pack check' } })
  const claims: AccessTokenClaims = await verifier.verify(login.accessToken)
  if (claims.userId !== 'pack-user') throw new Error(`verified the wrong user: ${claims.userId}`)
  const next = await auth.refreshSession(login.refreshToken)
  await verifier.verify(next.accessToken)
  await auth.revokeSession(claims.sessionId)
  const refused = await verifier.verify(next.accessToken).then(
    () => null,
    (err: unknown) => err,
  )
  if (!(refused instanceof AuthError)) throw new Error(`a revoked session's token was not refused with an AuthError: ${String(refused)}`)
  console.log(`esm: signed in, verified, refreshed, revoked; refused with ${refused.code}`)
} finally {
  await verifier.close()
  await store.close()
}
