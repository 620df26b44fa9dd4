// The floor of the gateway benchmark: a node:http forward-auth service that
// verifies nothing and answers every call 200 with the gateway's headers (two
// identity headers, Cache-Control, nosniff). Behind the same NGINX config it
// shows the most any Node service in the auth_request path can reach on this
// machine: NGINX's subrequest plus Node's own HTTP cost, with no auth work.
// Prints READY {url}.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { announceReady } from '../lib/processes.js'

const HEADERS = {
  'x-tessera-user': 'floor',
  'x-tessera-session': 'AAAAAAAAAAAAAAAA.Zmxvb3I',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-length': '0',
}
const server = createServer((_request, response) => {
  response.writeHead(200, HEADERS).end()
})
// As the gateway (Fastify's default): NGINX keeps its upstream connections open.
server.keepAliveTimeout = 72_000
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  announceReady({ url: `http://127.0.0.1:${port}` }, () => new Promise<void>((resolve) => server.close(() => resolve())))
})
