// Tessera on a Sentinel-managed master: a failover during traffic recovers by
// itself, and the WAIT durability option keeps acknowledged revocations
// across a failover that loses the master's unreplicated writes.
import { strict as assert } from 'node:assert'
import { describe, test, type TestContext } from 'node:test'
import { createTessera, SigningKeySet, type AuthOptions, type SessionTokens, type Tessera } from '@tessera/core'
import { uniquePrefix, waitFor } from '../../../../../test/support/redis.js'
import { TESSERA_ACL_RULES, command, partitionReplicas, startSentinelGroup, type PrivateSentinelGroup } from '../../../../../test/support/redis-topology.js'
import { RedisSessionStore, type RedisDurability } from '../../index.js'
import { SentinelConnection } from '../../sentinel-connection.js'
import { runWholeFlow } from './flow.js'

const TOKEN_KEY = 'sentinel-test-token-key-of-32-bytes!!'

async function engine(group: PrivateSentinelGroup, durability?: RedisDurability, options: Partial<AuthOptions> = {}): Promise<Tessera> {
  const store = await RedisSessionStore.connect({
    sentinel: { nodes: group.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), masterName: group.masterName },
    keyPrefix: uniquePrefix('sentinel'),
    ...(durability ? { durability } : {}),
  })
  return createTessera({ store, keys: await SigningKeySet.generate(), tokenKey: TOKEN_KEY, ...options })
}

async function promoted(group: PrivateSentinelGroup): Promise<void> {
  const oldPort = String(group.master.port)
  await waitFor(async () => {
    const addr = (await command(group.sentinels[0]!.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', group.masterName])) as string[]
    return addr[1] !== oldPort
  }, 30_000, 50)
}

async function withGroup(t: TestContext, options: Parameters<typeof startSentinelGroup>[0], body: (group: PrivateSentinelGroup) => Promise<void>): Promise<void> {
  const group = await startSentinelGroup(options)
  t.after(() => group.stop())
  await body(group)
}

/** Sends a PING until the connection has resolved `address` as its master (15 s bound); a failed PING is retried. */
async function assertFindsMaster(connection: SentinelConnection, address: string): Promise<void> {
  await waitFor(async () => {
    await connection.send(['PING'])
    return connection.masterAddress === address
  }, 15_000).catch(() => undefined)
  assert.equal(connection.masterAddress, address)
}

async function isRevoked(auth: Tessera, tokens: SessionTokens): Promise<boolean> {
  try {
    await auth.verifyAccessToken(tokens.accessToken, { mode: 'strict' })
    return false
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_SESSION_REVOKED') return true
    throw err
  }
}

void describe('Redis Sentinel', () => {
  void test('recovers by itself when the master is killed during logins, refreshes and revocations', async (t) => {
    await withGroup(t, { replicas: 1 }, async (group) => {
      // No heartbeat timer: the only commands are the test's own, so what finds the master again is a command.
      const auth = await engine(group, undefined, { heartbeatIntervalMs: 0 })
      t.after(() => auth.store.close())
      let running = true
      let killedAtMs = 0
      let firstSuccessAfterKillMs = 0
      const codes = new Set<string>()
      let operations = 0
      const worker = async (n: number) => {
        for (let i = 0; running; i++) {
          try {
            const tokens = await auth.createSession({ userId: `failover-${n}-${i % 5}` })
            const next = await auth.refreshSession(tokens.refreshToken)
            await auth.revokeSession(next.sessionId)
            operations += 3
            if (killedAtMs > 0 && firstSuccessAfterKillMs === 0) firstSuccessAfterKillMs = Date.now()
          } catch (err) {
            codes.add(String((err as { code?: string }).code))
            // Fail-closed errors come back at once; pace the retry loop like a client would.
            await new Promise((resolve) => setTimeout(resolve, 20))
          }
        }
      }
      const workers = [0, 1, 2, 3].map(worker)
      try {
        await waitFor(() => operations > 100, 10_000)
        killedAtMs = Date.now()
        await group.master.stop('SIGKILL')
        await promoted(group)
        await waitFor(() => firstSuccessAfterKillMs > 0, 15_000)
      } finally {
        running = false
        await Promise.all(workers)
      }
      const windowMs = firstSuccessAfterKillMs - killedAtMs
      t.diagnostic(`failover: unavailable for ${windowMs} ms after kill -9 of the master (down-after 1000 ms), ${operations} operations`)
      // Fail closed, never a crash or a hang. A session created in the last instant before the kill may
      // not have reached the replica, so its refresh can also meet ERR_SESSION_NOT_FOUND afterwards.
      assert.ok(codes.has('ERR_STORE_UNAVAILABLE'))
      for (const code of codes) assert.ok(['ERR_STORE_UNAVAILABLE', 'ERR_SESSION_NOT_FOUND'].includes(code), `unexpected ${code}`)
      assert.equal((auth.store as RedisSessionStore).connection instanceof SentinelConnection, true)
      // On a loaded machine the workers' last command may have failed and made the client forget the master;
      // it looks again only when a command is sent, so the wait (bounded) sends one each time it polls.
      const connection = (auth.store as RedisSessionStore).connection as SentinelConnection
      const promotedPort = group.replicas[0]!.port
      await assertFindsMaster(connection, `127.0.0.1:${promotedPort}`)
      // The same state made on purpose: a write that times out (the master pauses writes) makes the client
      // forget the master, and its next command finds it again.
      await command(promotedPort, ['CLIENT', 'PAUSE', '3000', 'WRITE'])
      await assert.rejects(connection.send(['SET', 'sentinel-test:paused-write', '1']))
      assert.equal(connection.masterAddress, null, 'a command that timed out makes the client forget the master')
      await assertFindsMaster(connection, `127.0.0.1:${promotedPort}`)
      await command(promotedPort, ['CLIENT', 'UNPAUSE'])
      // After the failover the whole flow works on the promoted master, blocked log reader included.
      await runWholeFlow(auth.store)
    })
  })

  for (const waitOn of [true, false]) {
    void test(`${waitOn ? 'keeps every acknowledged revocation' : 'loses acknowledged revocations (reported)'} across a failover with WAIT ${waitOn ? 'on' : 'off'}`, async (t) => {
      await withGroup(t, { replicas: 1, partitionable: true }, async (group) => {
        const auth = await engine(group, waitOn ? { replicas: 1, timeoutMs: 1000 } : undefined)
        t.after(() => auth.store.close())
        const sessions = await Promise.all(Array.from({ length: 40 }, (_, i) => auth.createSession({ userId: `durable-${i}` })))
        // Revocations before the partition reach the replica; those after it only reach the master.
        const acknowledged: SessionTokens[] = []
        const failed: SessionTokens[] = []
        const revoke = async (tokens: SessionTokens) => {
          try {
            await auth.revokeSession(tokens.sessionId)
            acknowledged.push(tokens)
          } catch (err) {
            assert.equal((err as { code?: string }).code, 'ERR_STORE_UNAVAILABLE')
            failed.push(tokens)
          }
        }
        for (const tokens of sessions.slice(0, 20)) await revoke(tokens)
        await waitFor(async () => replicaCaughtUp(group), 10_000)
        await partitionReplicas(group)
        const revocations = Promise.all(sessions.slice(20).map(revoke))
        // Waiting revocations hold their own connection: sign-ins on the shared one are not queued behind them.
        const first = await Promise.race([revocations.then(() => 'revocations'), auth.createSession({ userId: 'meanwhile' }).then(() => 'sign-in')])
        if (waitOn) assert.equal(first, 'sign-in')
        await revocations
        await group.master.stop('SIGKILL')
        await promoted(group)
        await waitFor(async () => (await auth.createSession({ userId: 'probe' })).accessToken !== '', 15_000, 50)

        const lost: SessionTokens[] = []
        for (const tokens of acknowledged) if (!(await isRevoked(auth, tokens))) lost.push(tokens)
        t.diagnostic(`WAIT ${waitOn ? 'on' : 'off'}: ${acknowledged.length} revocations acknowledged, ${failed.length} refused, ${lost.length} acknowledged ones lost by the failover`)
        if (waitOn) {
          assert.equal(lost.length, 0)
          assert.equal(acknowledged.length, 20)
          assert.equal(failed.length, 20)
        } else {
          assert.equal(acknowledged.length, 40)
          assert.equal(lost.length, 20)
        }
      })
    })
  }

  void test('finds the master through sentinels that require a user, and works as a restricted data user', async (t) => {
    const dataUser = ['tessera', 'on', '>data-secret', ...TESSERA_ACL_RULES]
    await withGroup(
      t,
      { replicas: 1, masterArgs: ['--user', ...dataUser], sentinelConfig: ['user tessera-sentinel on >sentinel-secret +sentinel|get-master-addr-by-name +ping +client'] },
      async (group) => {
        const sentinel = { nodes: group.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), masterName: group.masterName }
        const options = { keyPrefix: 'tessera:', username: 'tessera', password: 'data-secret', connectTimeoutMs: 2000 }
        await assert.rejects(RedisSessionStore.connect({ ...options, sentinel: { ...sentinel, username: 'tessera-sentinel', password: 'wrong' } }), {
          code: 'ERR_STORE_UNAVAILABLE',
        })
        await assert.rejects(RedisSessionStore.connect({ ...options, password: 'wrong', sentinel: { ...sentinel, username: 'tessera-sentinel', password: 'sentinel-secret' } }), {
          code: 'ERR_STORE_UNAVAILABLE',
        })
        const store = await RedisSessionStore.connect({ ...options, sentinel: { ...sentinel, username: 'tessera-sentinel', password: 'sentinel-secret' } })
        t.after(() => store.close())
        await runWholeFlow(store)
      },
    )
  })
})

async function replicaCaughtUp(group: PrivateSentinelGroup): Promise<boolean> {
  const info = String(await command(group.master.port, ['INFO', 'replication']))
  const masterOffset = /master_repl_offset:(\d+)/.exec(info)?.[1]
  const replicaOffset = /slave0:.*offset=(\d+)/.exec(info)?.[1]
  return masterOffset !== undefined && masterOffset === replicaOffset
}
