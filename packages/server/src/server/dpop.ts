import type { FastifyRequest } from 'fastify'
import { AuthError, type DpopPresentation, DpopProofInvalid, type Tessera, type VerifiedDpopProof } from '@tessera/core'
import { authProblem } from './http-errors.js'

/**
 * The request's DPoP proof with the method and URL it must name, or undefined
 * when the request sent no `DPoP` header. Scheme and host are Fastify's, which
 * follow `X-Forwarded-Proto`/`-Host` only with `TESSERA_TRUST_PROXY`.
 */
export function dpopPresentation(request: FastifyRequest): DpopPresentation | undefined {
  const proof = request.headers.dpop
  if (proof === undefined) return undefined
  return { proof, method: request.method, url: `${request.protocol}://${request.host}${request.url}` }
}

/**
 * Sign-in and refresh are token endpoints: the shared mapping answers there
 * (a bad proof or a missing nonce is a 400, RFC 9449 sections 5 and 8, with
 * `DPoP-Nonce` when a nonce is needed; a refresh token whose session ended is
 * 401 `ERR_SESSION_REVOKED`; a refresh token used without its key stays a 401).
 */
export function tokenEndpointError(err: unknown): unknown {
  return err instanceof AuthError ? authProblem(err, { endpoint: 'token' }) : err
}

/**
 * The sign-in's proof, checked in full before the password is (a nonce round
 * trip or a bad proof then costs no password hash): undefined without a
 * `DPoP` header, unless the operator requires DPoP.
 */
export async function signInProof(request: FastifyRequest, auth: Tessera): Promise<VerifiedDpopProof | undefined> {
  const presentation = dpopPresentation(request)
  try {
    if (!presentation) {
      if (auth.dpop.options.required) throw new DpopProofInvalid('this server requires DPoP: send a DPoP proof')
      return undefined
    }
    return await auth.dpop.check(presentation, {}, auth.options.clock.nowMs())
  } catch (err) {
    throw tokenEndpointError(err)
  }
}

/** The `DPoP-Nonce` to hand out with a token response, or null when nonces are off. */
export function currentNonce(auth: Tessera): string | null {
  return auth.dpop.nonce(auth.options.clock.nowMs())
}
