// A NestJS service behind Tessera: every route protected unless marked @Public() or @OptionalAuth(),
// claims injected with @RequiredClaims() (protected routes: never null) or @Claims() (may be null). It signs in a user, calls the API, revokes the session, calls again, exits.
// Run: TSX_TSCONFIG_PATH=examples/nest/tsconfig.json node --conditions=tessera-source --import tsx examples/nest/main.ts
// With PORT set (0: any free port) it then keeps serving until SIGTERM, with a fresh token to try (the smoke test does).
import 'reflect-metadata'
import { Controller, Get, Module } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { MemoryStore, SigningKeySet, createTessera, type AccessTokenClaims } from '@tessera/core'
import { Claims, OptionalAuth, Public, RequiredClaims, TesseraModule } from '@tessera/verifier/nest'
import { createVerifier } from '@tessera/verifier'

const store = new MemoryStore()
const keys = await SigningKeySet.generate({ alg: 'ES256' })
const auth = await createTessera({ store, keys, issuer: 'https://auth.example', audience: 'orders-api' })
const verifier = await createVerifier({ mode: 'strict', store, keys, issuer: 'https://auth.example', audience: 'orders-api', algorithms: ['ES256'] })

@Controller()
class OrdersController {
  @Get('orders')
  orders(@RequiredClaims() claims: AccessTokenClaims) {
    return { userId: claims.userId, orders: [] }
  }

  @Public()
  @Get('health')
  health() {
    return 'ok'
  }

  @OptionalAuth()
  @Get('catalogue')
  catalogue(@Claims() claims: AccessTokenClaims | null) {
    return { personalisedFor: claims?.userId ?? null }
  }
}

@Module({ imports: [TesseraModule.forRoot({ verifier })], controllers: [OrdersController] })
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: ['error'] })
await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1')
const base = await app.getUrl()
console.log(`listening on ${base}`)

const login = await auth.createSession({ userId: 'alice' })
for (const [path, token] of [['/orders', login.accessToken], ['/catalogue', undefined], ['/health', undefined]] as const) {
  const response = await fetch(base + path, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  console.log(`GET ${path} -> ${response.status} ${await response.text()}`)
}
await auth.revokeSession(login.sessionId)
const response = await fetch(`${base}/orders`, { headers: { authorization: `Bearer ${login.accessToken}` } })
console.log(`GET /orders after revoke -> ${response.status} ${await response.text()}`)

if (process.env.PORT !== undefined) {
  // A demo user's token, from keys that live only in this process.
  const trial = await auth.createSession({ userId: 'bob' })
  console.log(`serving until SIGTERM; try: curl -H 'authorization: Bearer ${trial.accessToken}' ${base}/orders`)
  await new Promise((resolve) => process.once('SIGTERM', resolve))
}

await app.close()
await verifier.close()
await auth.close()
