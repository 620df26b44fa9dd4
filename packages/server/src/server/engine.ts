import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createTessera, SigningKeySet, type AuthOptions, type SessionStore, type Tessera } from '@tessera/core'
import type { ServerConfig } from './config.js'

/** The data dir's signing key set (`tessera keys generate` writes the same file). */
export const KEYS_FILE = 'signing-keys.json'

/** What the engine is built from: the part of the configuration both the server and the CLI read. */
export type EngineConfig = Pick<
  ServerConfig,
  | 'dataDir'
  | 'tokenKey'
  | 'signingKeysJson'
  | 'issuer'
  | 'audience'
  | 'accessTokenTtlSeconds'
  | 'refreshIdleTtlSeconds'
  | 'refreshAbsoluteTtlSeconds'
  | 'maxSessions'
  | 'dpopRequired'
  | 'dpopNonces'
>

/**
 * The token key from TESSERA_TOKEN_KEY, else the one kept in <data dir>/token.key
 * (0600), so restarts and instances sharing the directory agree. A server
 * (`create`, the default) makes that file on first start; an admin tool must
 * not invent the servers' key, so without `create` a missing file gives null.
 *
 * @example
 * ```ts
 * const tokenKey = await loadTokenKey(config, { create: false }) // null: neither TESSERA_TOKEN_KEY nor token.key
 * ```
 */
export async function loadTokenKey(config: Pick<EngineConfig, 'dataDir' | 'tokenKey'>, options: { create: false }): Promise<Buffer | null>
export async function loadTokenKey(config: Pick<EngineConfig, 'dataDir' | 'tokenKey'>, options?: { create?: true }): Promise<Buffer>
export async function loadTokenKey(config: Pick<EngineConfig, 'dataDir' | 'tokenKey'>, options: { create?: boolean } = {}): Promise<Buffer | null> {
  // The bytes the engine makes of a string key (UTF-8), so every caller seals and signs with the same ones.
  if (config.tokenKey) return Buffer.from(config.tokenKey, 'utf8')
  const path = join(config.dataDir, 'token.key')
  try {
    const key = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url')
    if (key.length >= 32) return key
    throw new Error(`${path} holds fewer than 32 bytes; delete it to make a new key`)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (options.create === false) return null
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
  const key = randomBytes(32)
  try {
    // 'wx': if another instance wrote it first, use theirs.
    await writeFile(path, key.toString('base64url'), { mode: 0o600, flag: 'wx' })
    await chmod(path, 0o600)
    return key
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url')
  }
}

/**
 * What the engine is for. `issuer` (`tessera serve`) signs tokens with the
 * configured keys and writes issuer heartbeats to the revocation log. `admin`
 * (the CLI) acts on sessions and reads the log: it signs nothing and writes no
 * heartbeat, because verifiers take a heartbeat as proof that an issuer with
 * these settings is alive.
 */
export type EngineRole = 'issuer' | 'admin'

/** Options of {@link openEngine}. */
export interface OpenEngineOptions {
  role: EngineRole
  /** Announces slow steps before they start (an issuer's first key generation). */
  progress?: (step: string) => void
}

/** An engine built from configuration, with what its owner needs to know of its signing keys. */
export interface OpenedEngine {
  auth: Tessera
  /** Where the signing keys live, for the start-up line. */
  keysSource: string
  /** Writes the key set back to the data dir after an admin rotation; null when the keys live elsewhere (store, environment) or the engine signs nothing. */
  saveKeys: (() => Promise<void>) | null
}

/**
 * The issuer's signing keys. With a shared store they are fleet state in the store,
 * which TESSERA_SIGNING_KEYS or the data dir's set only seed when it is empty;
 * otherwise TESSERA_SIGNING_KEYS, else the data dir's set (made on first start).
 */
async function issuerKeys(config: EngineConfig, shared: boolean, progress: (step: string) => void): Promise<Pick<AuthOptions, 'keys' | 'sharedKeys'> & Omit<OpenedEngine, 'auth'>> {
  const keysFile = join(config.dataDir, KEYS_FILE)
  if (shared) {
    const seed = config.signingKeysJson ? await SigningKeySet.fromJSON(config.signingKeysJson) : await SigningKeySet.load(config.dataDir)
    return { ...(seed ? { keys: seed } : {}), sharedKeys: true, keysSource: 'shared in the store', saveKeys: null }
  }
  if (config.signingKeysJson) return { keys: await SigningKeySet.fromJSON(config.signingKeysJson), keysSource: 'TESSERA_SIGNING_KEYS', saveKeys: null }
  if (!existsSync(keysFile)) progress(`first start: generating signing keys into ${keysFile}`)
  const keys = await SigningKeySet.loadOrCreate(config.dataDir)
  return { keys, keysSource: keysFile, saveKeys: () => keys.save(config.dataDir) }
}

/**
 * The one place the engine is built from configuration, for `tessera serve` and the
 * admin commands alike: same token key, issuer, audience, lifetimes and session limit.
 * The role decides the signing keys and the heartbeat (see {@link EngineRole}).
 *
 * @example
 * ```ts
 * const { auth } = await openEngine(loadConfig(process.env), store, { role: 'admin' })
 * ```
 */
export async function openEngine(config: EngineConfig, store: SessionStore, options: OpenEngineOptions): Promise<OpenedEngine> {
  const issuer = options.role === 'issuer'
  // An admin tool never invents the servers' key. It signs and verifies nothing, so without one a key of its own
  // (never written anywhere) only satisfies the shared store's rule that every process names a key.
  const tokenKey = issuer ? await loadTokenKey(config) : ((await loadTokenKey(config, { create: false })) ?? randomBytes(32))
  // An admin engine signs nothing: the key set the engine makes for itself in memory is never used.
  const keys = issuer ? await issuerKeys(config, store.shared === true, options.progress ?? (() => undefined)) : { keysSource: 'none (signs nothing)', saveKeys: null }
  const { keysSource, saveKeys, ...keyOptions } = keys
  const auth = await createTessera({
    ...keyOptions,
    store,
    tokenKey,
    // DPoP nonces are keyed from the token key (the checker derives its own subkey), so every instance accepts every other's.
    dpop: { required: config.dpopRequired, ...(config.dpopNonces ? { nonce: { key: tokenKey } } : {}) },
    issuer: config.issuer,
    audience: config.audience,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    refreshIdleTtlSeconds: config.refreshIdleTtlSeconds,
    refreshAbsoluteTtlSeconds: config.refreshAbsoluteTtlSeconds,
    maxSessions: config.maxSessions,
    // A heartbeat tells verifiers a live issuer with these settings writes the log: an admin command is not one.
    ...(issuer ? {} : { heartbeatIntervalMs: 0 }),
  })
  return { auth, keysSource, saveKeys }
}
