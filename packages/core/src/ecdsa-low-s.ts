/**
 * ECDSA signatures are malleable: if (r, s) verifies, so does (r, n - s).
 * Tessera issues only the low-S form (s <= n/2, as Bitcoin's BIP 62 and
 * libsecp256k1 do) and every verifier, the engine's included, refuses the
 * other, so one token has exactly one spelling. Only ES256 (P-256) is used.
 */

// Order n of the P-256 group (SEC 2, section 2.4.2).
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')
const HALF_ORDER = Buffer.from((P256_ORDER >> 1n).toString(16).padStart(64, '0'), 'hex')
const SIGNATURE_BYTES = 64

/**
 * True when a 64-byte IEEE P1363 (r || s) P-256 signature has s above n/2.
 * Other lengths are not ECDSA P1363 signatures and are left to the caller.
 *
 * @example
 * ```ts
 * if (alg === 'ES256' && isHighS(signature)) throw new AccessTokenInvalid('access token signature is invalid')
 * ```
 */
export function isHighS(signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false
  return Buffer.compare(signature.subarray(32), HALF_ORDER) > 0
}

/** The low-S twin of a P1363 P-256 signature (the same bytes when already low-S). */
export function toLowS(signature: Uint8Array): Buffer {
  if (!isHighS(signature)) return Buffer.from(signature)
  const s = BigInt(`0x${Buffer.from(signature.subarray(32)).toString('hex')}`)
  const low = Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex')
  return Buffer.concat([signature.subarray(0, 32), low])
}
