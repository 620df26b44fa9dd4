import type { AccessTokenClaims } from '../access-token.js'
import { AccessTokenInvalid, DpopKeyMismatch, DpopProofInvalid } from '../errors.js'
import type { DpopPresentation, DpopProofChecker, VerifiedDpopProof } from './dpop-proof.js'

/**
 * Decides whether an access token was presented the way its binding asks
 * (RFC 9449 section 7), synchronously: a DPoP-bound token needs the `DPoP`
 * scheme and a proof of its key; a bearer token needs the `Bearer` scheme
 * and is refused outright when the operator requires DPoP. `presentation` is
 * null for the `Bearer` scheme. Returns the proof still to be marked used
 * (one replay-cache call), or null for a bearer token.
 *
 * @throws {DpopKeyMismatch} {@link DpopProofInvalid} {@link DpopNonceRequired} {@link AccessTokenInvalid}
 * @example
 * ```ts
 * const proof = checkTokenPresentation(checker, claims, token, { proof: req.headers.dpop, method, url }, Date.now())
 * if (proof) await checker.markUsed(proof, Date.now())
 * ```
 */
export function checkTokenPresentation(
  checker: DpopProofChecker,
  claims: Pick<AccessTokenClaims, 'keyThumbprint'>,
  accessToken: string,
  presentation: DpopPresentation | null,
  nowMs: number,
): VerifiedDpopProof | null {
  if (presentation === null) {
    if (claims.keyThumbprint !== null) throw new DpopKeyMismatch('this access token is bound to a DPoP key: send it as "Authorization: DPoP <token>" with a DPoP proof')
    if (checker.options.required) throw new DpopProofInvalid('this server requires DPoP: bearer tokens are not accepted')
    return null
  }
  if (claims.keyThumbprint === null) throw new AccessTokenInvalid('access token is not DPoP-bound; send it as a Bearer token')
  return checker.verify(presentation, { accessToken, thumbprint: claims.keyThumbprint }, nowMs)
}
