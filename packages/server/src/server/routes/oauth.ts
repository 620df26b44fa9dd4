import { createHash, timingSafeEqual } from 'node:crypto'
import formbody from '@fastify/formbody'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AuthError, DpopNonceRequired } from '@tessera/core'
import { clientBucket } from '../client-address.js'
import type { ServerContext } from '../context.js'
import { dpopPresentation } from '../dpop.js'
import { LoginLockout } from '../login-lockout.js'
import { classify, logFailure } from '../plugins/errors.js'
import { enforceRateLimit } from '../rate-limiter.js'
import { sendTokens } from '../token-reply.js'

/** An RFC 6749 section 5.2 error. */
class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly status: number,
    description: string,
  ) {
    super(description)
  }
}

const formBody = {
  type: 'object',
  properties: {
    grant_type: { type: 'string', maxLength: 64 },
    refresh_token: { type: 'string', maxLength: 1024 },
    token: { type: 'string', maxLength: 8192 },
    token_type_hint: { type: 'string', maxLength: 64 },
    client_id: { type: 'string', maxLength: 200 },
    scope: { type: 'string', maxLength: 1024 },
  },
} as const

type Form = { grant_type?: string; refresh_token?: string; token?: string; token_type_hint?: string }

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

const DUMMY_SECRET = digest('no such client')

/**
 * Failed client authentications lock the address (with back-off) and count per
 * client id (one window at a time). Only the address lock refuses the right
 * secret: anyone can name a client id, so a lock on the id alone would let a
 * stranger keep the real client out, as the per-account sign-in lock once did.
 */
function clientAuthLockouts(ctx: ServerContext): { perIp: LoginLockout; perClient: LoginLockout } {
  return {
    perIp: new LoginLockout(ctx.limiter, ctx.rateLimits.clientAuthPerIp, { what: 'client authentications' }),
    perClient: new LoginLockout(ctx.limiter, ctx.rateLimits.clientAuthPerClient, { what: 'client authentications', backoff: false }),
  }
}

/**
 * HTTP Basic client authentication (RFC 6749 section 2.3.1). Returns the client
 * id, null when the request sent no credentials, and throws invalid_client on
 * wrong ones. Failures count per client address and per client id. A locked
 * address gets 429 with Retry-After before the secret is compared, so a
 * locked-out guesser learns nothing from further tries there. Past the client
 * id's limit a wrong secret gets 429 instead of 401, while the right one still
 * passes: the real client is never locked out by failures that are not its own.
 */
async function authenticateClient(request: FastifyRequest, ctx: ServerContext, lockouts: ReturnType<typeof clientAuthLockouts>): Promise<string | null> {
  const clients = ctx.clients
  const header = request.headers.authorization
  if (header === undefined) return null
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header)
  const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : ''
  const colon = decoded.indexOf(':')
  let id = ''
  let secret = ''
  try {
    id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '))
    secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '))
  } catch {
    id = '' // malformed percent-encoding: treat as an unknown client
  }
  const ipKey = `client-auth-ip:${clientBucket(request)}`
  const clientKey = `client-auth-id:${ctx.limiterKey(id)}`
  await lockouts.perIp.assertOpen(ipKey)
  const clientLocked = await lockouts.perClient.refusal(clientKey)
  const expected = clients.get(id)
  // Compare even for unknown ids so the answer takes the same time.
  const same = timingSafeEqual(digest(secret), expected === undefined ? DUMMY_SECRET : digest(expected))
  if (colon === -1 || expected === undefined || !same) {
    await lockouts.perIp.recordFailure(ipKey)
    await lockouts.perClient.recordFailure(clientKey)
    throw clientLocked ?? new OAuthError('invalid_client', 401, 'client authentication failed')
  }
  return id
}

function sendOAuthError(reply: FastifyReply, err: unknown): FastifyReply {
  let error: OAuthError
  const headers: Record<string, string> = {}
  if (err instanceof OAuthError) error = err
  // RFC 9449 sections 5 and 8: proof problems are invalid_dpop_proof, a missing nonce use_dpop_nonce with a fresh one.
  else if (err instanceof DpopNonceRequired) {
    error = new OAuthError('use_dpop_nonce', 400, err.message)
    headers['dpop-nonce'] = err.nonce
  } else if (err instanceof AuthError && err.code === 'ERR_DPOP_PROOF_INVALID') error = new OAuthError('invalid_dpop_proof', 400, err.message)
  // A bound refresh token used without its key: the grant is refused (and its session was revoked as theft).
  else if (err instanceof AuthError && (err.code.startsWith('ERR_REFRESH_TOKEN') || err.code === 'ERR_SESSION_NOT_FOUND' || err.code === 'ERR_DPOP_KEY_MISMATCH')) {
    error = new OAuthError('invalid_grant', 400, err.message)
  }
  else if (err instanceof AuthError && err.code === 'ERR_USER_BANNED') error = new OAuthError('invalid_grant', 400, 'the user is banned')
  else {
    const { code, detail, headers: extra } = classify(err)
    logFailure(reply.log, err, code)
    Object.assign(headers, extra)
    if (code === 'ERR_STORE_UNAVAILABLE' || code === 'ERR_RATE_LIMITER_UNAVAILABLE' || code === 'ERR_DATABASE_UNAVAILABLE') {
      error = new OAuthError('temporarily_unavailable', 503, detail)
      headers['retry-after'] ??= '1'
    } else if (code === 'ERR_RATE_LIMITED') error = new OAuthError('temporarily_unavailable', 429, detail)
    else if (code === 'ERR_INTERNAL') error = new OAuthError('server_error', 500, 'internal error')
    else if (code === 'ERR_PAYLOAD_TOO_LARGE') error = new OAuthError('invalid_request', 413, detail)
    else error = new OAuthError('invalid_request', 400, detail)
  }
  if (error.error === 'invalid_client') headers['www-authenticate'] = 'Basic realm="tessera"'
  return reply
    .code(error.status)
    .headers({ ...headers, 'cache-control': 'no-store', pragma: 'no-cache' })
    .type('application/json')
    .send({ error: error.error, error_description: error.message })
}

/** RFC 6749 refresh grant, RFC 7662 introspection and RFC 7009 revocation, form-encoded. */
export async function oauthRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  await app.register(formbody, { bodyLimit: 16 * 1024 })
  const lockouts = clientAuthLockouts(ctx)
  app.setErrorHandler((err, _request, reply) => sendOAuthError(reply, err))

  app.post<{ Body: Form }>('/oauth2/token', {
    schema: { summary: 'RFC 6749 token endpoint (grant_type=refresh_token)', consumes: ['application/x-www-form-urlencoded'], body: formBody },
  }, async (request, reply) => {
    await authenticateClient(request, ctx, lockouts)
    const form = request.body ?? {}
    if (!form.grant_type) throw new OAuthError('invalid_request', 400, 'grant_type is required')
    if (form.grant_type !== 'refresh_token') throw new OAuthError('unsupported_grant_type', 400, 'only grant_type=refresh_token is supported')
    if (!form.refresh_token) throw new OAuthError('invalid_request', 400, 'refresh_token is required')
    await enforceRateLimit(ctx.limiter, `refresh-ip:${clientBucket(request)}`, ctx.rateLimits.refreshPerIp)
    try {
      const dpop = dpopPresentation(request)
      const tokens = await ctx.auth.refreshSession(form.refresh_token, dpop ? { dpop } : {})
      ctx.metrics.refreshes.inc({ outcome: 'success' })
      return await sendTokens(request, reply, ctx, tokens, false)
    } catch (err) {
      ctx.metrics.refreshes.inc({ outcome: err instanceof AuthError ? err.code : 'error' })
      throw err
    }
  })

  app.post<{ Body: Form }>('/oauth2/introspect', {
    schema: { summary: 'RFC 7662 token introspection (HTTP Basic client authentication)', consumes: ['application/x-www-form-urlencoded'], body: formBody },
  }, async (request, reply) => {
    const clientId = await authenticateClient(request, ctx, lockouts)
    if (clientId === null) throw new OAuthError('invalid_client', 401, 'introspection needs HTTP Basic client authentication')
    const token = request.body?.token
    if (!token) throw new OAuthError('invalid_request', 400, 'token is required')
    reply.header('cache-control', 'no-store')
    const found = await ctx.auth.inspectToken(token)
    if (!found) return { active: false }
    if (found.kind === 'refresh_token') {
      if (!found.active || !found.session) return { active: false }
      return {
        active: true,
        token_type: 'refresh_token',
        sub: found.userId,
        sid: found.sessionId,
        iat: Math.floor(found.session.lastSeenAtMs / 1000),
        exp: Math.floor(found.session.expiresAtMs / 1000),
        iss: ctx.auth.options.issuer,
        // The thumbprint is folded into the stored hash, not kept: a bound refresh token says only that it is bound.
        ...(found.session.dpopBound ? { dpop_bound: true } : {}),
      }
    }
    try {
      await ctx.auth.checkRevocation(found.claims)
    } catch (err) {
      if (err instanceof AuthError && err.code === 'ERR_STORE_UNAVAILABLE') throw err
      return { active: false }
    }
    const c = found.claims
    // RFC 9449 section 6.2: a bound token introspects as token_type DPoP with its cnf.jkt.
    const binding = c.keyThumbprint === null ? { token_type: 'Bearer' } : { token_type: 'DPoP', cnf: { jkt: c.keyThumbprint } }
    return { active: true, ...binding, sub: c.userId, sid: c.sessionId, jti: c.tokenId, iat: c.issuedAt, exp: c.expiresAt, iss: c.issuer, aud: ctx.auth.options.audience }
  })

  app.post<{ Body: Form }>('/oauth2/revoke', {
    schema: { summary: 'RFC 7009 revocation: revoking a refresh or an access token ends its session', consumes: ['application/x-www-form-urlencoded'], body: formBody },
  }, async (request, reply) => {
    await authenticateClient(request, ctx, lockouts)
    const token = request.body?.token
    if (!token) throw new OAuthError('invalid_request', 400, 'token is required')
    const found = await ctx.auth.inspectToken(token)
    // RFC 7009 section 2.2: an invalid or unknown token still gets 200.
    if (found) await ctx.auth.revokeSession(found.sessionId, { reason: 'revoked' })
    return reply.code(200).header('cache-control', 'no-store').send()
  })
}
