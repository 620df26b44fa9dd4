import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type { AccessTokenClaims } from '@tessera/core'
import { decide, type AuthOutcome } from '../http-problem.js'
import { PROBLEM_CONTENT_TYPE } from '../problem-details.js'
import type { Verifier } from '../verifier.js'

declare module 'express-serve-static-core' {
  interface Request {
    /**
     * Claims of the verified access token; null when optional and no token was sent, absent
     * before the middleware. Express's request type cannot know which routes the middleware
     * protects: there, `authOf(req)` gives the claims typed non-null.
     */
    auth?: AccessTokenClaims | null
  }
}

/** Options of {@link tesseraExpress}. */
export interface TesseraExpressOptions {
  verifier: Verifier
  /** Let requests without any bearer token through with `req.auth = null` (a bad token is still refused). Default false. */
  optional?: boolean
  /** `realm` of the `WWW-Authenticate` challenge. */
  realm?: string
}

/**
 * Express middleware: verifies the access token (Bearer, or DPoP with its
 * proof) and puts its claims on
 * `req.auth`. Answers exactly as the Fastify plugin does (same decision
 * function): 401 + `WWW-Authenticate` + problem+json for a missing or bad
 * token, 503 when revocation state cannot be read.
 *
 * @example
 * ```ts
 * app.get('/me', tesseraExpress({ verifier }), (req, res) => { res.json({ userId: authOf(req).userId }) })
 * ```
 */
export function tesseraExpress(options: TesseraExpressOptions): RequestHandler {
  const { verifier, realm } = options
  if (!verifier || typeof verifier.verifyMaybeSync !== 'function') throw new TypeError('"verifier" option is required')
  const optional = options.optional ?? false
  const apply = (req: Request, res: Response, next: NextFunction, outcome: AuthOutcome) => {
    if (outcome.ok) {
      req.auth = outcome.claims
      next()
      return
    }
    const { problem } = outcome
    res.status(problem.status).set(problem.headers).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem.body))
  }
  return (req: Request, res: Response, next: NextFunction) => {
    // req.protocol and req.host follow X-Forwarded-* only under the app's 'trust proxy' setting.
    const outcome = decide(
      verifier,
      { authorization: req.headers.authorization, dpop: req.headers.dpop, method: req.method, url: `${req.protocol}://${req.host}${req.originalUrl}` },
      { optional, realm },
    )
    if (outcome instanceof Promise) {
      // decide() never rejects; this only catches a throw from a later handler run synchronously by next().
      outcome.then((o) => apply(req, res, next, o)).catch(next)
    } else {
      apply(req, res, next, outcome)
    }
  }
}

export { authOf } from './auth-of.js'
