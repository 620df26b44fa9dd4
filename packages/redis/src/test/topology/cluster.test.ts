// Tessera on a real Redis Cluster of three private masters: the store contract,
// the revocation log across slots, and a live reshard under traffic.
import { strict as assert } from 'node:assert'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { storeContract } from '../../../../../test/support/store-contract.js'
import { createTessera, SigningKeySet, type Tessera } from '@tessera/core'
import { uniquePrefix } from '../../../../../test/support/redis.js'
import { TESSERA_ACL_RULES, command, startCluster, type PrivateCluster } from '../../../../../test/support/redis-topology.js'
import { RedisSessionStore } from '../../index.js'
import { KeyNames } from '../../key-names.js'
import { ClusterConnection } from '../../cluster-connection.js'
import { runWholeFlow } from './flow.js'

let cluster: PrivateCluster

before(async () => {
  cluster = await startCluster(3)
})

after(async () => {
  await cluster?.stop()
})

function seeds() {
  return cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }))
}

async function clusterStore(prefix = uniquePrefix('cluster')): Promise<RedisSessionStore> {
  // A generous command timeout: these tests are about routing, and CI machines are busy.
  return RedisSessionStore.connect({ cluster: { nodes: seeds().slice(0, 1) }, keyPrefix: prefix, commandTimeoutMs: 5000 })
}

storeContract({
  name: 'RedisSessionStore on Redis Cluster',
  async create() {
    const store = await clusterStore()
    return { store, cleanup: () => store.close() }
  },
})

void describe('Redis Cluster', () => {
  let auth: Tessera
  let store: RedisSessionStore

  before(async () => {
    store = await clusterStore()
    auth = await createTessera({ store, keys: await SigningKeySet.generate(), tokenKey: 'cluster-test-token-key-of-32-bytes!!' })
  })

  after(async () => {
    await store.close()
  })

  void test('works as the minimal ACL user plus cluster|slots', async (t) => {
    for (const node of cluster.nodes) {
      await command(node.port, ['ACL', 'SETUSER', 'tessera', 'reset', 'on', '>cluster-secret', ...TESSERA_ACL_RULES, '+cluster|slots'])
    }
    const restricted = await RedisSessionStore.connect({ cluster: { nodes: seeds() }, username: 'tessera', password: 'cluster-secret', keyPrefix: 'tessera:', commandTimeoutMs: 5000 })
    t.after(() => restricted.close())
    await runWholeFlow(restricted)
  })

  void test('spreads users over several masters while each user stays in one slot', async () => {
    const owners = new Set<number>()
    for (let i = 0; i < 30; i++) {
      const userId = `spread-${i}`
      await auth.createSession({ userId })
      const slot = Number(await command(cluster.nodes[0]!.port, ['CLUSTER', 'KEYSLOT', new KeyNames(store.keyPrefix).user(userId)]))
      assert.equal(Number(await command(cluster.nodes[0]!.port, ['CLUSTER', 'KEYSLOT', new KeyNames(store.keyPrefix).deniedToken(userId, 'x')])), slot)
      owners.add(await ownerOf(slot))
    }
    assert.equal(owners.size, 3)
  })

  void test('appends revocations from every slot to the one log, which a blocked reader sees', async () => {
    const { lastPosition } = await auth.revocationLogInfo()
    const users = [`log-a-${randomUUID()}`, `log-b-${randomUUID()}`, `log-c-${randomUUID()}`]
    const sessions = await Promise.all(users.map((userId) => auth.createSession({ userId })))
    const blocked = auth.readRevocations(lastPosition, { blockMs: 5000 })
    await auth.revokeSession(sessions[0]!.sessionId)
    const first = await blocked
    assert.equal(first.entries.length, 1)
    await auth.revokeAllSessions(users[1]!)
    await auth.banUser(users[2]!, { reason: 'test' })
    await auth.denyAccessToken(sessions[1]!.accessToken)
    const read = await auth.readRevocations(lastPosition)
    const seen = read.entries.map((e) => e.event.userId)
    for (const userId of users) assert.ok(seen.includes(userId), `no event for ${userId}`)
    await assert.rejects(auth.verifyAccessToken(sessions[0]!.accessToken, { mode: 'strict' }), { code: 'ERR_SESSION_REVOKED' })
  })

  void test('keeps serving logins, refreshes and revocations while their slots migrate to another master', async (t) => {
    const source = cluster.nodes[0]!
    const target = cluster.nodes[1]!
    const sourceId = String(await command(source.port, ['CLUSTER', 'MYID']))
    const targetId = String(await command(target.port, ['CLUSTER', 'MYID']))
    // Users whose slot the source owns, so the migration moves them under the traffic.
    const users: string[] = []
    const slots = new Set<number>()
    for (let i = 0; users.length < 12; i++) {
      const userId = `reshard-${i}-${randomUUID().slice(0, 4)}`
      const slot = Number(await command(source.port, ['CLUSTER', 'KEYSLOT', new KeyNames(store.keyPrefix).user(userId)]))
      if ((await ownerOf(slot)) !== source.port) continue
      users.push(userId)
      slots.add(slot)
    }
    for (const userId of users) await auth.createSession({ userId })

    let migrating = true
    let operations = 0
    const failures: unknown[] = []
    const traffic = users.map(async (userId) => {
      while (migrating) {
        try {
          const tokens = await auth.createSession({ userId })
          const next = await auth.refreshSession(tokens.refreshToken)
          await auth.verifyAccessToken(next.accessToken, { mode: 'strict' })
          await auth.revokeSession(next.sessionId)
          await assert.rejects(auth.verifyAccessToken(next.accessToken, { mode: 'strict' }), { code: 'ERR_SESSION_REVOKED' })
          operations += 5
        } catch (err) {
          failures.push(err)
        }
      }
    })

    try {
      for (const slot of slots) {
        await command(target.port, ['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId])
        await command(source.port, ['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetId])
        for (;;) {
          // One key at a time, so traffic meets the slot half-moved (ASK and TRYAGAIN).
          const keys = (await command(source.port, ['CLUSTER', 'GETKEYSINSLOT', String(slot), '1'])) as string[]
          if (keys.length === 0) break
          await command(source.port, ['MIGRATE', '127.0.0.1', String(target.port), '', '0', '5000', 'KEYS', ...keys])
          await new Promise((resolve) => setTimeout(resolve, 5)) // pacing, lets traffic run between moves
        }
        for (const node of cluster.nodes) await command(node.port, ['CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId])
      }
    } finally {
      migrating = false
      await Promise.all(traffic)
    }
    assert.deepEqual(failures, [])
    assert.ok(operations > 0)
    t.diagnostic(`reshard: ${slots.size} slots moved under ${operations} operations, ${(store.connection as ClusterConnection).retriedCommands} TRYAGAIN retries`)
    for (const slot of slots) assert.equal(await ownerOf(slot), target.port)
    // Every user's state came through: their sessions are still listed on the new owner.
    for (const userId of users) assert.ok((await auth.listSessions(userId)).length > 0)
  })
})

async function ownerOf(slot: number): Promise<number> {
  const shards = (await command(cluster.nodes[0]!.port, ['CLUSTER', 'SLOTS'])) as [number, number, [string, number, string]][]
  for (const [from, to, master] of shards) if (slot >= from && slot <= to) return Number(master[1])
  throw new Error(`slot ${slot} has no owner`)
}
