import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'

/**
 * The server-side key behind opaque tokens (refresh and one-time). It never
 * leaves the process, so neither a Redis dump nor a session id is enough to
 * forge a token: every token carries a tag only this key can make, and the
 * successor of a refresh secret is derived with it.
 */
export class TokenSecrets {
  readonly #tagKey: Buffer
  readonly #chainKey: Buffer

  constructor(masterKey: Uint8Array) {
    this.#tagKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'tessera token tag v1', 32))
    this.#chainKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'tessera refresh chain v1', 32))
  }

  /** 128-bit tag over `parts`, base64url. */
  tag(...parts: (string | Buffer)[]): string {
    const mac = createHmac('sha256', this.#tagKey)
    for (const part of parts) {
      mac.update(typeof part === 'string' ? part : part.toString('base64url'))
      mac.update('\x00')
    }
    return mac.digest().subarray(0, 16).toString('base64url')
  }

  /** Constant-time check of a tag made by {@link tag}. */
  verifyTag(tag: string, ...parts: (string | Buffer)[]): boolean {
    const expected = Buffer.from(this.tag(...parts), 'base64url')
    const given = Buffer.from(tag, 'base64url')
    // Spare bits of the last character would otherwise let one tag be spelled several ways.
    if (given.toString('base64url') !== tag) return false
    return given.length === expected.length && timingSafeEqual(given, expected)
  }

  /**
   * Deterministic successor of a refresh secret. A retry with the previous
   * token inside the grace window must get the same successor back, and Redis
   * holds only hashes, so the successor is derived rather than stored.
   */
  successorSecret(sessionId: string, nextGeneration: number, secret: Buffer): Buffer {
    return createHmac('sha256', this.#chainKey).update(`${sessionId}\x00${nextGeneration}\x00`).update(secret).digest()
  }
}

/**
 * What the store keeps of a secret: the first 128 bits of its SHA-256. The
 * secrets are 256 random bits, so a fast hash is enough and nobody can turn a
 * stored hash back into a token. With `keyThumbprint` (a DPoP-bound session)
 * the hash covers the key too, so the binding costs the store no extra bytes:
 * the refresh secret alone no longer matches.
 */
export function hashSecret(secret: Buffer, keyThumbprint?: string): Buffer {
  const hash = createHash('sha256').update(secret)
  if (keyThumbprint !== undefined) hash.update('\0dpop\0').update(keyThumbprint, 'ascii')
  return hash.digest().subarray(0, 16)
}
