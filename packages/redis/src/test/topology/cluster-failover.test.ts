// Redis Cluster with a replica per master: revocations wait for their replica
// (WAIT on the owning node), and when a master is killed the cluster promotes
// its replica and Tessera recovers by itself without losing acknowledged revocations.
import { strict as assert } from 'node:assert'
import { after, before, test } from 'node:test'
import { createTessera, SigningKeySet, type SessionTokens } from '@tessera/core'
import { uniquePrefix, waitFor } from '../../../../../test/support/redis.js'
import { command, startCluster, type PrivateCluster } from '../../../../../test/support/redis-topology.js'
import { RedisSessionStore } from '../../index.js'
import { KeyNames } from '../../key-names.js'
import { runWholeFlow } from './flow.js'

let cluster: PrivateCluster

before(async () => {
  cluster = await startCluster(3, 1)
})

after(async () => {
  await cluster?.stop()
})

async function store(): Promise<RedisSessionStore> {
  return RedisSessionStore.connect({
    cluster: { nodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })) },
    keyPrefix: uniquePrefix('cluster-ha'),
    durability: { replicas: 1, timeoutMs: 1000 },
    commandTimeoutMs: 500,
  })
}

void test('runs the whole flow with revocations waiting for their replica on Cluster', async (t) => {
  const s = await store()
  t.after(() => s.close())
  await runWholeFlow(s)
})

void test('recovers by itself when a master is killed, keeping every acknowledged revocation', async (t) => {
  const s = await store()
  t.after(() => s.close())
  const auth = await createTessera({ store: s, keys: await SigningKeySet.generate(), tokenKey: 'cluster-ha-token-key-of-32-bytes!!!!' })
  const revoked: SessionTokens[] = []
  for (let i = 0; i < 30; i++) {
    const tokens = await auth.createSession({ userId: `ha-${i}` })
    await auth.revokeSession(tokens.sessionId)
    revoked.push(tokens)
  }
  // Kill the master that owns the first user's slot.
  const slot = Number(await command(cluster.nodes[0]!.port, ['CLUSTER', 'KEYSLOT', new KeyNames(s.keyPrefix).user('ha-0')]))
  const shards = (await command(cluster.nodes[0]!.port, ['CLUSTER', 'SLOTS'])) as [number, number, [string, number, string]][]
  const ownerPort = Number(shards.find(([from, to]) => slot >= from && slot <= to)![2][1])
  const victim = cluster.nodes.find((n) => n.port === ownerPort)!
  const killedAtMs = Date.now()
  await victim.stop('SIGKILL')
  await waitFor(async () => {
    try {
      await auth.createSession({ userId: 'ha-0' })
      return true
    } catch {
      return false
    }
  }, 30_000, 100)
  t.diagnostic(`cluster failover: users of the killed master unavailable for ${Date.now() - killedAtMs} ms (cluster-node-timeout 2000 ms)`)
  for (const tokens of revoked) await assert.rejects(auth.verifyAccessToken(tokens.accessToken, { mode: 'strict' }), { code: 'ERR_SESSION_REVOKED' })
})
