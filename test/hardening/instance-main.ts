// One auth server instance as its own process, for the multi-instance race
// suites: reads its deployment from TESSERA_HARDENING_DEPLOYMENT (JSON),
// listens on a free loopback port and prints `listening <port>` on stdout.
import { SigningKeySet } from '@tessera/core'
import { startInstance, type Deployment } from './harness.js'

interface DeploymentSpec {
  keys: string
  tokenKey: string
  keyPrefix: string
  schema: string
  redisUrl: string
  databaseUrl: string
  adminToken: string
  refreshGraceSeconds: number
}

const spec = JSON.parse(process.env.TESSERA_HARDENING_DEPLOYMENT ?? '') as DeploymentSpec
const deployment: Deployment = {
  keys: await SigningKeySet.fromJSON(spec.keys),
  tokenKey: spec.tokenKey,
  keyPrefix: spec.keyPrefix,
  schema: spec.schema,
  redisUrl: spec.redisUrl,
  databaseUrl: spec.databaseUrl,
  drop: async () => {},
}
const instance = await startInstance(deployment, { auth: { refreshGraceSeconds: spec.refreshGraceSeconds }, app: { adminToken: spec.adminToken } })
await instance.app.listen({ port: 0, host: '127.0.0.1' })
const address = instance.app.server.address()
process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`)
const stop = () => {
  instance.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
// The test holds our stdin open; when it ends (the test process died, e.g. a killed run), exit at once (nobody is
// left to drain for, and a graceful close can wait on a Redis that died with the test) instead of living on as
// an orphan that keeps a port and a Redis client (seen after an interrupted `npm test`).
process.stdin.once('end', () => process.exit(0))
process.stdin.resume()
