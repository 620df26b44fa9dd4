// A tour of the engine on embedded defaults (memory store, generated ES256 key):
// sign in, verify, refresh, detect reuse, sign out everywhere.
import { createTessera, type AuthError } from '@tessera/core'

const auth = await createTessera({ issuer: 'https://auth.example', audience: 'api', refreshGraceSeconds: 0 })
auth.on('refresh_reuse_detected', ({ sessionId }) => console.log(`  event: reuse detected, session ${sessionId} revoked`))

const login = await auth.createSession({ userId: 'alice', device: { userAgent: 'demo/1.0', ip: '127.0.0.1', name: 'terminal' } })
console.log(`signed in: session ${login.sessionId}`)
const claims = await auth.verifyAccessToken(login.accessToken, { mode: 'strict' })
console.log(`access token verified (strict): user ${claims.userId}, expires ${new Date(claims.expiresAt * 1000).toISOString()}`)

const refreshed = await auth.refreshSession(login.refreshToken)
console.log(`refreshed: generation ${refreshed.session.generation}`)
try {
  await auth.refreshSession(login.refreshToken)
} catch (err) {
  console.log(`replaying the old refresh token: ${(err as AuthError).code}`)
}
try {
  await auth.verifyAccessToken(refreshed.accessToken, { mode: 'strict' })
} catch (err) {
  console.log(`the session's access token now fails strict verification: ${(err as AuthError).code}`)
}

await auth.createSession({ userId: 'alice', device: { name: 'phone' } })
await auth.createSession({ userId: 'alice', device: { name: 'laptop' } })
console.log(`alice has ${(await auth.listSessions('alice')).length} sessions`)
console.log(`revoke-all ended ${await auth.revokeAllSessions('alice')}; log now holds ${(await auth.revocationLogInfo()).length} revocations`)
await auth.close()
