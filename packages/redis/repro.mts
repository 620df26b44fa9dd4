import { makeCertificates, startTlsRedis } from '../../test/support/redis-topology.js'
import { RedisSessionStore } from './src/index.js'
const certs = await makeCertificates()
const server = await startTlsRedis(certs, { requireClientCert: true })
let crashes = 0
process.on('uncaughtException', (err) => { crashes++; console.log('UNCAUGHT', (err as any).code, err.message) })
const outcomes: Record<string, number> = {}
for (let i = 0; i < 40; i++) {
  try { const s = await RedisSessionStore.connect({ url: server.url, tls: { ca: certs.ca }, connectTimeoutMs: 1000 }); await s.close(); outcomes.connected = (outcomes.connected ?? 0) + 1 }
  catch (err) { const c = String((err as any).cause?.code ?? (err as any).cause?.message); outcomes[c] = (outcomes[c] ?? 0) + 1 }
}
await new Promise((r) => setTimeout(r, 500))
console.log(outcomes, 'crashes', crashes)
await server.stop(); certs.remove()
