import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import type { JWK } from 'jose'
import { SIGNING_ALGORITHMS, type SigningAlgorithm, type SigningKeyRecord } from './signing-keys.js'

/**
 * The signing key set as the store keeps it: ids, algorithms and times in the
 * clear, each private key sealed with AES-256-GCM under a key derived (HKDF,
 * its own info label) from the token key that every instance of a fleet
 * already shares. A store dump alone signs nothing; a record moved onto
 * another id or algorithm fails to open (both are the GCM associated data).
 */

const FORMAT = 'tessera-signing-keys/1'
const SEALING_INFO = 'tessera signing key sealing v1'
const IV_BYTES = 12
const TAG_BYTES = 16

interface SealedRecord {
  keyId: string
  alg: SigningAlgorithm
  createdAtMs: number
  retiresAtMs: number | null
  /** base64url of iv || ciphertext || tag. */
  sealed: string
}

/** The key that seals private keys at rest, derived from the token key. */
export function signingKeySealingKey(tokenKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', tokenKey, Buffer.alloc(0), SEALING_INFO, 32))
}

function associatedData(keyId: string, alg: string): Buffer {
  return Buffer.from(`${FORMAT}\x00${keyId}\x00${alg}`, 'utf8')
}

/**
 * Serialises records for the store, sealing every private key.
 *
 * @example
 * ```ts
 * const document = sealSigningKeys(keys.toJSON().keys, signingKeySealingKey(tokenKey))
 * ```
 */
export function sealSigningKeys(records: readonly SigningKeyRecord[], sealingKey: Buffer): string {
  const keys: SealedRecord[] = records.map((r) => {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', sealingKey, iv)
    cipher.setAAD(associatedData(r.keyId, r.alg))
    const body = Buffer.concat([cipher.update(JSON.stringify(r.privateJwk), 'utf8'), cipher.final()])
    return {
      keyId: r.keyId,
      alg: r.alg,
      createdAtMs: r.createdAtMs,
      retiresAtMs: r.retiresAtMs,
      sealed: Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url'),
    }
  })
  return JSON.stringify({ format: FORMAT, keys })
}

/** The stored key set could not be read: another token key, or a damaged document. */
export class SigningKeysUnreadable extends Error {
  override name = 'SigningKeysUnreadable'
}

function isSealedRecord(value: unknown): value is SealedRecord {
  const r = value as SealedRecord
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.keyId === 'string' &&
    r.keyId.length > 0 &&
    SIGNING_ALGORITHMS.includes(r.alg) &&
    Number.isFinite(r.createdAtMs) &&
    (r.retiresAtMs === null || Number.isFinite(r.retiresAtMs)) &&
    typeof r.sealed === 'string'
  )
}

/**
 * Opens a document written by {@link sealSigningKeys}. Every record must open:
 * one that does not was not written by a holder of the token key.
 *
 * @throws {SigningKeysUnreadable}
 */
export function unsealSigningKeys(document: string, sealingKey: Buffer): SigningKeyRecord[] {
  let parsed: { format?: unknown; keys?: unknown }
  try {
    parsed = JSON.parse(document) as typeof parsed
  } catch {
    throw new SigningKeysUnreadable('the stored signing key set is not JSON')
  }
  if (parsed?.format !== FORMAT || !Array.isArray(parsed.keys) || parsed.keys.length === 0 || !parsed.keys.every(isSealedRecord)) {
    throw new SigningKeysUnreadable(`the stored signing key set is not in the ${FORMAT} format`)
  }
  return parsed.keys.map((r) => {
    const raw = Buffer.from(r.sealed, 'base64url')
    let privateJwk: JWK
    try {
      if (raw.length <= IV_BYTES + TAG_BYTES) throw new Error('too short')
      const decipher = createDecipheriv('aes-256-gcm', sealingKey, raw.subarray(0, IV_BYTES))
      decipher.setAAD(associatedData(r.keyId, r.alg))
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
      const clear = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()])
      privateJwk = JSON.parse(clear.toString('utf8')) as JWK
    } catch (err) {
      throw new SigningKeysUnreadable(
        `signing key ${r.keyId} in the store does not open with this token key (every instance sharing a store must use the same TESSERA_TOKEN_KEY)`,
        { cause: err },
      )
    }
    return { keyId: r.keyId, alg: r.alg, createdAtMs: r.createdAtMs, retiresAtMs: r.retiresAtMs, privateJwk }
  })
}
