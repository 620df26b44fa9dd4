import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createTessera, type AuthOptions, type SessionStore, type Tessera } from '@tessera/core'
import type { ServerConfig } from './config.js'

/** What the engine is built from: the part of the configuration both the server and the CLI read. */
export type EngineConfig = Pick<
  ServerConfig,
  'dataDir' | 'tokenKey' | 'issuer' | 'audience' | 'accessTokenTtlSeconds' | 'refreshIdleTtlSeconds' | 'refreshAbsoluteTtlSeconds' | 'maxSessions'
>

/**
 * The token key from TESSERA_TOKEN_KEY, else one generated once and kept in
 * <data dir>/token.key (0600), so restarts and instances sharing the directory agree.
 */
export async function loadTokenKey(config: Pick<EngineConfig, 'dataDir' | 'tokenKey'>): Promise<string | Buffer> {
  if (config.tokenKey) return config.tokenKey
  const path = join(config.dataDir, 'token.key')
  try {
    const key = Buffer.from((await readFile(path, 'utf8')).trim(), 'base64url')
    if (key.length >= 32) return key
    throw new Error(`${path} holds fewer than 32 bytes; delete it to make a new key`)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
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
 * The one place the engine is built from configuration, for `tessera serve` and the
 * admin commands alike: same token key, issuer, audience, lifetimes and session limit.
 *
 * @example
 * ```ts
 * const auth = await openEngine(loadConfig(process.env), store)
 * ```
 */
export async function openEngine(config: EngineConfig, store: SessionStore, extra: Pick<AuthOptions, 'keys' | 'sharedKeys'> = {}): Promise<Tessera> {
  return createTessera({
    ...extra,
    store,
    tokenKey: await loadTokenKey(config),
    issuer: config.issuer,
    audience: config.audience,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    refreshIdleTtlSeconds: config.refreshIdleTtlSeconds,
    refreshAbsoluteTtlSeconds: config.refreshAbsoluteTtlSeconds,
    maxSessions: config.maxSessions,
  })
}
