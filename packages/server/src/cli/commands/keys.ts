// `tessera keys generate|list|rotate`: the signing key set in the data dir, or in
// the store when Redis is configured (the fleet's shared set).
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { Command, Option } from 'commander'
import { SharedSigningKeys, SIGNING_ALGORITHMS, SigningKeySet, systemClock, type SigningAlgorithm } from '@tessera/core'
import { KEYS_FILE, loadTokenKey } from '../../server/engine.js'
import type { CliConfig } from '../config.js'
import { CliError, connectStore, EXIT, runAction, withJson, type Output } from './runtime.js'

function algorithmOption(): Option {
  return new Option('--alg <alg>', 'signing algorithm').choices([...SIGNING_ALGORITHMS])
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

/** Rotation and generation write the data dir; keys given in the environment must be changed where that variable is managed. */
function assertFileKeys(config: CliConfig, verb: string): void {
  if (config.signingKeysJson) {
    throw new CliError(`signing keys come from TESSERA_SIGNING_KEYS; ${verb} them where that variable is managed (tessera keys generate --stdout prints a fresh set)`, {
      code: 'ERR_KEYS_FROM_ENV',
      exitCode: EXIT.usage,
    })
  }
}

function printKeys(out: Output, keys: SigningKeySet, source: string, nowMs: number): void {
  const current = keys.current().keyId
  const described = keys.describe().map((k) => ({
    key_id: k.keyId,
    alg: k.alg,
    created_at: new Date(k.createdAtMs).toISOString(),
    retires_at: k.retiresAtMs === null ? null : new Date(k.retiresAtMs).toISOString(),
    current: k.keyId === current,
    verifying: k.retiresAtMs === null || k.retiresAtMs > nowMs,
  }))
  const lines = [`signing keys from ${source}:`]
  for (const k of described) {
    const state = k.current ? 'current' : k.verifying ? `retiring ${k.retires_at}` : `retired ${k.retires_at}`
    lines.push(`  ${k.key_id}  ${k.alg.padEnd(6)}  created ${k.created_at}  ${state}`)
  }
  out.result(lines, { source, keys: described })
}

async function loadConfigured(config: CliConfig): Promise<{ keys: SigningKeySet; source: string }> {
  if (config.signingKeysJson) return { keys: await SigningKeySet.fromJSON(config.signingKeysJson), source: 'TESSERA_SIGNING_KEYS' }
  const file = join(config.dataDir, KEYS_FILE)
  if (!(await exists(file))) {
    throw new CliError(`no signing keys at ${file}; run "tessera keys generate" or start the server once`, { code: 'ERR_KEYS_MISSING', exitCode: EXIT.notFound })
  }
  return { keys: await SigningKeySet.loadOrCreate(config.dataDir), source: file }
}

/** Runs `body` on the fleet's key set in the store (seeding an empty store the way a starting server would). */
async function withSharedKeys<T>(config: CliConfig, body: (shared: SharedSigningKeys) => Promise<T>): Promise<T> {
  // The shared key set is sealed under the servers' token key: the same loader as theirs, which never invents one here.
  const tokenKey = await loadTokenKey(config, { create: false })
  if (!tokenKey) {
    throw new CliError(`the shared signing keys are sealed under the servers' token key: set TESSERA_TOKEN_KEY (or run where ${join(config.dataDir, 'token.key')} exists)`, {
      code: 'ERR_TOKEN_KEY_MISSING',
      exitCode: EXIT.usage,
    })
  }
  const store = await connectStore(config)
  try {
    const seed = config.signingKeysJson ? await SigningKeySet.fromJSON(config.signingKeysJson) : await SigningKeySet.load(config.dataDir)
    // The default poll interval, as the servers use: a rotation keeps the old key for two of them on top of its lifetime.
    const shared = await SharedSigningKeys.open({ store, tokenKey, seed, clock: systemClock })
    try {
      return await body(shared)
    } finally {
      shared.close()
    }
  } finally {
    await store.close()
  }
}

/**
 * The `keys` command group.
 *
 * @example
 * ```ts
 * program.addCommand(keysCommand())   // tessera keys rotate --json
 * ```
 */
export function keysCommand(): Command {
  const keys = new Command('keys').description('manage the signing keys (in the store when Redis is configured, else data dir signing-keys.json or TESSERA_SIGNING_KEYS)')

  withJson(keys.command('generate').description('create a new signing key set in the data dir'))
    .addOption(algorithmOption().default('ES256'))
    .option('--force', 'replace an existing key set (every token signed by it stops verifying)')
    .option('--stdout', 'print the new set as JSON for TESSERA_SIGNING_KEYS instead of writing a file')
    .action(
      runAction(async ({ out, config }, options: { alg: SigningAlgorithm; force?: boolean; stdout?: boolean }) => {
        const set = await SigningKeySet.generate({ alg: options.alg })
        if (options.stdout) {
          // The only place private key material is printed: the operator asked for it explicitly.
          process.stdout.write(`${JSON.stringify(set.toJSON())}\n`)
          return
        }
        const cfg = config()
        assertFileKeys(cfg, 'generate')
        const file = join(cfg.dataDir, KEYS_FILE)
        if ((await exists(file)) && !options.force) {
          throw new CliError(`${file} already exists; use "tessera keys rotate" to add a key, or --force to replace the set`, { code: 'ERR_KEYS_EXIST', exitCode: EXIT.usage })
        }
        await set.save(cfg.dataDir)
        printKeys(out, set, file, Date.now())
      }),
    )

  withJson(keys.command('list').description('list signing keys without private material')).action(
    runAction(async ({ out, config }) => {
      const cfg = config()
      if (cfg.redis) {
        await withSharedKeys(cfg, async (shared) => printKeys(out, shared.keys, 'the store (shared by the fleet)', Date.now()))
        return
      }
      const { keys: set, source } = await loadConfigured(cfg)
      printKeys(out, set, source, Date.now())
    }),
  )

  withJson(keys.command('rotate').description('add a new current key; the previous one keeps verifying for one access-token lifetime'))
    .addOption(algorithmOption())
    .action(
      runAction(async ({ out, config }, options: { alg?: SigningAlgorithm }) => {
        const cfg = config()
        if (cfg.redis) {
          await withSharedKeys(cfg, async (shared) => {
            // Same lifetime rule as POST /admin/keys/rotate; every server picks the new key up within seconds.
            const { keyId } = await shared.rotate({ retireAfterSeconds: cfg.accessTokenTtlSeconds, ...(options.alg ? { alg: options.alg } : {}) })
            if (!out.json) process.stdout.write(`new current key ${keyId}; every server on this store picks it up within seconds\n`)
            printKeys(out, shared.keys, 'the store (shared by the fleet)', Date.now())
          })
          return
        }
        assertFileKeys(cfg, 'rotate')
        const { keys: set, source } = await loadConfigured(cfg)
        const nowMs = Date.now()
        set.prune(nowMs)
        const { keyId } = await set.rotate({ retireAfterSeconds: cfg.accessTokenTtlSeconds, nowMs, ...(options.alg ? { alg: options.alg } : {}) })
        await set.save(cfg.dataDir)
        if (!out.json) process.stdout.write(`new current key ${keyId}; restart or reload every server so they sign with it\n`)
        printKeys(out, set, source, nowMs)
      }),
    )

  return keys
}
