// A Hono service (on Node) behind Tessera: one protected route, one open route. It signs in a user,
// calls the API with the access token, revokes the session and calls again, then exits.
// Run: node --conditions=tessera-source --import tsx examples/hono.ts
// With PORT set (0: any free port) it then keeps serving until SIGTERM, with a fresh token to try (the smoke test does).
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { MemoryStore, SigningKeySet, createTessera } from '@tessera/core'
import { tesseraHono, type TesseraHonoEnv } from '@tessera/verifier/hono'
import { createVerifier } from '@tessera/verifier'

const store = new MemoryStore()
const keys = await SigningKeySet.generate({ alg: 'ES256' })
const auth = await createTessera({ store, keys, issuer: 'https://auth.example', audience: 'orders-api' })
const verifier = await createVerifier({ mode: 'strict', store, keys, issuer: 'https://auth.example', audience: 'orders-api', algorithms: ['ES256'] })

const app = new Hono<TesseraHonoEnv>()
app.get('/health', (c) => c.text('ok'))
app.use('/api/*', tesseraHono({ verifier }))
app.get('/api/orders', (c) => c.json({ userId: c.var.auth!.userId, orders: [] }))

const server = await new Promise<Server>((resolve) => {
  const s = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: '127.0.0.1' }, () => resolve(s as Server))
})
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
console.log(`listening on ${base}`)

const login = await auth.createSession({ userId: 'alice' })
const call = async () => {
  const response = await fetch(`${base}/api/orders`, { headers: { authorization: `Bearer ${login.accessToken}` } })
  console.log(`GET /api/orders -> ${response.status} ${await response.text()}`)
}
await call()
await auth.revokeSession(login.sessionId)
await call()

if (process.env.PORT !== undefined) {
  // A demo user's token, from keys that live only in this process.
  const trial = await auth.createSession({ userId: 'bob' })
  console.log(`serving until SIGTERM; try: curl -H 'authorization: Bearer ${trial.accessToken}' ${base}/api/orders`)
  await new Promise((resolve) => process.once('SIGTERM', resolve))
}

server.closeAllConnections()
server.close()
await verifier.close()
await auth.close()
