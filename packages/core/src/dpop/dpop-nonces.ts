import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'

const WINDOW_BYTES = 6
const TAG_BYTES = 16

/**
 * Server nonces for DPoP proofs (RFC 9449 section 8), stateless so that every
 * instance of a fleet accepts the nonces of every other: a nonce is a time
 * window number and an HMAC of it under a key all instances share. A nonce is
 * accepted in its own window and the ones next to it, so it lives between one
 * and two windows and instances whose clocks differ by less than a window agree.
 *
 * @example
 * ```ts
 * const nonces = new DpopNonces(sharedKey, 300_000)
 * const nonce = nonces.current(Date.now())   // send as the DPoP-Nonce header
 * nonces.accepts(nonce, Date.now())          // true
 * ```
 */
export class DpopNonces {
  readonly #key: Buffer
  readonly #windowMs: number

  /** `key` at least 32 bytes; `windowMs` how long one nonce is handed out. */
  constructor(key: Uint8Array, windowMs: number) {
    this.#key = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'tessera dpop nonce v1', 32))
    this.#windowMs = windowMs
  }

  #tag(window: number): Buffer {
    const bytes = Buffer.alloc(WINDOW_BYTES)
    bytes.writeUIntBE(window, 0, WINDOW_BYTES)
    return Buffer.concat([bytes, createHmac('sha256', this.#key).update(bytes).digest().subarray(0, TAG_BYTES)])
  }

  /** The nonce to hand out now. */
  current(nowMs: number): string {
    return this.#tag(Math.floor(nowMs / this.#windowMs)).toString('base64url')
  }

  /** True when `nonce` is one of ours from this window or the one before or after. */
  accepts(nonce: unknown, nowMs: number): boolean {
    if (typeof nonce !== 'string' || nonce.length !== 30) return false
    const given = Buffer.from(nonce, 'base64url')
    if (given.length !== WINDOW_BYTES + TAG_BYTES || given.toString('base64url') !== nonce) return false
    const window = given.readUIntBE(0, WINDOW_BYTES)
    const now = Math.floor(nowMs / this.#windowMs)
    if (Math.abs(window - now) > 1) return false
    return timingSafeEqual(given, this.#tag(window))
  }
}
