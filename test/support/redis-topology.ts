// Helpers that start private Redis topologies for tests: a Cluster, a master
// with a replica and three sentinels, a TLS server with certificates made by
// openssl. Everything listens on free loopback ports and is stopped by PID.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createClient, type RedisClientOptions } from 'redis'
import { freePort, startPrivateRedis, waitFor, type PrivateRedis } from './redis.js'

const run = promisify(execFile)

/** Sends one command to a node on loopback (test set-up only). */
export async function command(port: number, args: string[], options: RedisClientOptions = {}): Promise<unknown> {
  const client = createClient({ ...options, socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 1000, ...(options.socket ?? {}) } })
  client.on('error', () => {})
  try {
    await client.connect()
    return await client.sendCommand(args)
  } finally {
    if (client.isOpen) client.destroy()
  }
}

/** Stops every handle, all of them even when some fail. */
async function stopAll(handles: { stop(signal?: NodeJS.Signals): Promise<void> }[], signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  await Promise.allSettled(handles.map((h) => h.stop(signal)))
}

/** A private Redis Cluster of masters only. */
export interface PrivateCluster {
  nodes: PrivateRedis[]
  stop(): Promise<void>
}

/**
 * Starts `masters` cluster-enabled nodes (and `replicasPerMaster` replicas of
 * each), joins them with `redis-cli --cluster create` and waits for `cluster_state:ok`.
 */
export async function startCluster(masters = 3, replicasPerMaster = 0): Promise<PrivateCluster> {
  const nodes: PrivateRedis[] = []
  const stop = () => stopAll(nodes)
  try {
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      nodes.push(await startPrivateRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']))
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'], {
      timeout: 20_000,
    })
    for (const node of nodes) {
      await waitFor(async () => String(await command(node.port, ['CLUSTER', 'INFO'])).includes('cluster_state:ok'), 20_000, 50)
    }
    // Replicas must be in sync before a test relies on them (WAIT, failover).
    for (const node of nodes) {
      await waitFor(async () => {
        const info = String(await command(node.port, ['INFO', 'replication']))
        return info.includes('role:master') || info.includes('master_link_status:up')
      }, 20_000, 50)
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { nodes, stop }
}

/**
 * The minimal ACL of docs/operations.md for key prefix `tessera:`: what the
 * scripts call, the store's direct reads, WAIT, and the start-up checks.
 */
export const TESSERA_ACL_RULES = [
  'resetkeys',
  '~tessera:*',
  'resetchannels',
  '-@all',
  '+eval',
  '+evalsha',
  '+eval_ro',
  '+evalsha_ro',
  '+script|load',
  '+hget',
  '+hmget',
  '+hgetall',
  '+hkeys',
  '+hset',
  '+hdel',
  '+hincrby',
  '+del',
  '+exists',
  '+set',
  '+persist',
  '+pexpireat',
  '+time',
  '+xadd',
  '+xread',
  '+xinfo|stream',
  '+wait',
  '+ping',
  '+info',
  '+role',
]

/** A private sentinel process. */
export interface PrivateSentinel {
  port: number
  pid: number
  process: ChildProcess
  stop(signal?: NodeJS.Signals): Promise<void>
}

async function startSentinel(masterName: string, masterPort: number, dir: string, quorum: number, extraConfig: string[]): Promise<PrivateSentinel> {
  const port = await freePort()
  const file = join(dir, `sentinel-${port}.conf`)
  writeFileSync(
    file,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} ${quorum}`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      `sentinel failover-timeout ${masterName} 3000`,
      `sentinel parallel-syncs ${masterName} 1`,
      ...extraConfig,
      '',
    ].join('\n'),
  )
  const child = spawn('redis-server', [file, '--sentinel'], { stdio: 'ignore' })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const handle: PrivateSentinel = {
    port,
    pid: child.pid!,
    process: child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal)
        await exited
      }
    },
  }
  try {
    await waitFor(async () => Array.isArray(await command(port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName])), 10_000)
  } catch (err) {
    await handle.stop('SIGKILL')
    throw err
  }
  return handle
}

/** The ACL user replicas authenticate as when a group is started with `partitionable`. */
const REPLICATION_USER = ['replicator', 'on', '>replication-secret', '+psync', '+replconf', '+ping']

/**
 * Cuts the replicas off the master, as a network partition would: the
 * replication user is disabled and its connections killed, so the replicas
 * cannot reconnect and whatever the master accepts from now on only lives there.
 */
export async function partitionReplicas(group: PrivateSentinelGroup): Promise<void> {
  await command(group.master.port, ['ACL', 'SETUSER', 'replicator', 'off'])
  await command(group.master.port, ['CLIENT', 'KILL', 'TYPE', 'replica'])
  await waitFor(async () => String(await command(group.master.port, ['INFO', 'replication'])).includes('connected_slaves:0'), 5000)
}

/** A master, its replicas and three sentinels watching them. */
export interface PrivateSentinelGroup {
  masterName: string
  master: PrivateRedis
  replicas: PrivateRedis[]
  sentinels: PrivateSentinel[]
  stop(): Promise<void>
}

/**
 * Starts a master, `replicas` replicas (in sync before this returns) and three
 * sentinels with quorum 2 and a 1 s down-after, so a failover takes seconds.
 */
export async function startSentinelGroup(
  options: { replicas?: number; masterArgs?: string[]; masterName?: string; partitionable?: boolean; sentinelConfig?: string[] } = {},
): Promise<PrivateSentinelGroup> {
  const masterName = options.masterName ?? 'tessera'
  const dir = mkdtempSync(join(tmpdir(), 'tessera-sentinel-'))
  const handles: { stop(signal?: NodeJS.Signals): Promise<void> }[] = []
  const stop = async () => {
    await stopAll(handles)
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const dataArgs = options.masterArgs ?? []
    // With `partitionable`, replicas log in as a user the test can disable (see partitionReplicas).
    const masterArgs = options.partitionable ? [...dataArgs, '--user', ...REPLICATION_USER] : dataArgs
    const replicaArgs = options.partitionable ? [...masterArgs, '--masteruser', 'replicator', '--masterauth', 'replication-secret'] : dataArgs
    const master = await startPrivateRedis(masterArgs)
    handles.push(master)
    const replicas: PrivateRedis[] = []
    for (let i = 0; i < (options.replicas ?? 1); i++) {
      const replica = await startPrivateRedis(['--replicaof', '127.0.0.1', String(master.port), ...replicaArgs])
      handles.push(replica)
      replicas.push(replica)
    }
    for (const replica of replicas) {
      await waitFor(async () => String(await command(replica.port, ['INFO', 'replication'])).includes('master_link_status:up'), 15_000, 50)
    }
    const sentinels: PrivateSentinel[] = []
    for (let i = 0; i < 3; i++) {
      const sentinel = await startSentinel(masterName, master.port, dir, 2, options.sentinelConfig ?? [])
      handles.push(sentinel)
      sentinels.push(sentinel)
    }
    // Sentinels find the replicas and each other through the master; failover needs both.
    await waitFor(async () => {
      const info = (await command(sentinels[0]!.port, ['SENTINEL', 'MASTER', masterName])) as string[]
      const field = (name: string) => Number(info[info.indexOf(name) + 1])
      return field('num-slaves') >= replicas.length && field('num-other-sentinels') >= 2
    }, 15_000, 50)
    return { masterName, master, replicas, sentinels, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Certificates for a TLS test, PEM contents and the files they are in. */
export interface TestCertificates {
  dir: string
  ca: Buffer
  caFile: string
  serverCertFile: string
  serverKeyFile: string
  clientCert: Buffer
  clientKey: Buffer
  clientCertFile: string
  clientKeyFile: string
  remove(): void
}

/** Makes a CA, a server certificate for 127.0.0.1/localhost and a client certificate with openssl. */
export async function makeCertificates(): Promise<TestCertificates> {
  const { readFileSync } = await import('node:fs')
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tls-'))
  const path = (name: string) => join(dir, name)
  const openssl = (args: string[]) => run('openssl', args, { cwd: dir, timeout: 20_000 })
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=Tessera Test CA', '-keyout', 'ca.key', '-out', 'ca.crt'])
  writeFileSync(path('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  writeFileSync(path('client.ext'), 'extendedKeyUsage=clientAuth\n')
  for (const [name, cn] of [
    ['server', 'localhost'],
    ['client', 'tessera'],
  ] as const) {
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`])
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`])
  }
  return {
    dir,
    ca: readFileSync(path('ca.crt')),
    caFile: path('ca.crt'),
    serverCertFile: path('server.crt'),
    serverKeyFile: path('server.key'),
    clientCert: readFileSync(path('client.crt')),
    clientKey: readFileSync(path('client.key')),
    clientCertFile: path('client.crt'),
    clientKeyFile: path('client.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

/** A redis-server that speaks only TLS, on `port`. */
export interface PrivateTlsRedis extends PrivateRedis {
  certificates: TestCertificates
}

/**
 * Starts a redis-server with TLS only (`--port 0 --tls-port`). With
 * `requireClientCert` the server refuses clients without a certificate signed by the test CA.
 */
export async function startTlsRedis(certificates: TestCertificates, options: { requireClientCert?: boolean } = {}): Promise<PrivateTlsRedis> {
  const tlsPort = await freePort()
  // The plain port is needed by startPrivateRedis's readiness check; --port 0 would hide it, so poll TLS instead.
  const server = await startPrivateRedis([
    '--tls-port',
    String(tlsPort),
    '--tls-cert-file',
    certificates.serverCertFile,
    '--tls-key-file',
    certificates.serverKeyFile,
    '--tls-ca-cert-file',
    certificates.caFile,
    '--tls-auth-clients',
    options.requireClientCert ? 'yes' : 'no',
  ])
  await command(server.port, ['CONFIG', 'SET', 'port', '0']).catch(() => undefined)
  const stop = server.stop.bind(server)
  return { ...server, port: tlsPort, url: `rediss://127.0.0.1:${tlsPort}`, certificates, stop }
}
