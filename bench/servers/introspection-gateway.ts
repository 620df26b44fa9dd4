// The comparison for the gateway benchmark: a forward-auth service that asks
// the auth server's RFC 7662 introspection endpoint about every request (what
// a service outside Node does without Tessera's gateway). 200 when the token
// is active, 401 otherwise, 503 when introspection fails. Keep-alive
// connections to the auth server (undici's pool), no cache.
// Args: --auth <url> --client <id:secret>. Prints READY {url}.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { announceReady } from '../lib/processes.js'

const { values } = parseArgs({ options: { auth: { type: 'string' }, client: { type: 'string' } } })
if (!values.auth || !values.client) throw new TypeError('--auth and --client are required')
const endpoint = `${values.auth}/oauth2/introspect`
const basic = `Basic ${Buffer.from(values.client).toString('base64')}`

const server = createServer((request, response) => {
  const header = request.headers.authorization ?? ''
  const token = header.startsWith('Bearer ') ? header.slice(7) : ''
  if (!token) {
    response.writeHead(401, { 'www-authenticate': 'Bearer' }).end()
    return
  }
  fetch(endpoint, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
    signal: AbortSignal.timeout(2000),
  })
    .then(async (res) => {
      const body = (await res.json()) as { active?: boolean; sub?: string; sid?: string }
      if (!res.ok) response.writeHead(503).end()
      else if (body.active) response.writeHead(200, { 'x-tessera-user': body.sub ?? '', 'x-tessera-session': body.sid ?? '' }).end()
      else response.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end()
    })
    .catch(() => response.writeHead(503).end())
})
server.keepAliveTimeout = 65_000
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
announceReady({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, () => new Promise<void>((resolve) => server.close(() => resolve())))
