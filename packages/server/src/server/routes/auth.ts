import type { FastifyInstance } from 'fastify'
import { SPAN, tracer } from '../../telemetry.js'
import { AuthError, type DpopPresentation } from '@tessera/core'
import { ATTR, inSpan } from '@tessera/core/internal'
import { authOf } from '@tessera/verifier/fastify'
import { normaliseEmail } from '../../users/email.js'
import { hashPassword, passwordProblem, verifyAgainstDummy, verifyPassword } from '../../users/password.js'
import { EmailTaken } from '../../users/user-store.js'
import { clientAddress, clientBucket } from '../client-address.js'
import type { ServerContext } from '../context.js'
import { dpopPresentation, signInProof, tokenEndpointError } from '../dpop.js'
import { HttpProblem } from '../http-errors.js'
import { DEVICE_COOKIE } from '../device-cookie.js'
import { enforceRateLimit, withinRateLimit } from '../rate-limiter.js'
import * as s from '../schemas.js'
import { clearRefreshCookie, isBrowserClient, refreshTokenFrom, sendTokens, setDeviceCookie, setSessionHint, REFRESH_COOKIE } from '../token-reply.js'
import { db } from '../user-database.js'

function outcomeOf(err: unknown): string {
  return err instanceof AuthError || err instanceof HttpProblem ? err.code : 'error'
}

/** Refreshes; errors answer as at a token endpoint (a session that no longer exists is 401 ERR_SESSION_REVOKED: sign in again). */
async function refreshOrRevoked(ctx: ServerContext, token: string, dpop: DpopPresentation | undefined) {
  try {
    return await ctx.auth.refreshSession(token, dpop ? { dpop } : {})
  } catch (err) {
    throw tokenEndpointError(err)
  }
}

/** Register, login, refresh, logout, logout-all and me. */
export function registerAuthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: { email: string; password: string } }>('/auth/register', {
    schema: {
      summary: 'Create an account (always 202: whether the email already had one is told only to its mailbox)',
      body: { type: 'object', required: ['email', 'password'], properties: { email: s.email, password: s.password } },
      response: { 202: s.accepted },
    },
  }, (request, reply) =>
    inSpan(tracer, SPAN.register, undefined, async (span) => {
      await enforceRateLimit(ctx.limiter, `register-ip:${clientBucket(request)}`, ctx.rateLimits.sensitivePerIp)
      const email = normaliseEmail(request.body.email)
      if (!email) throw new HttpProblem('ERR_VALIDATION', 'email is not a valid address')
      const problem = passwordProblem(request.body.password, email)
      if (problem) throw new HttpProblem('ERR_WEAK_PASSWORD', problem)
      const passwordHash = await hashPassword(request.body.password)
      try {
        await db(() => ctx.users.createUser({ email, passwordHash }))
      } catch (err) {
        if (!(err instanceof EmailTaken)) throw err
        // Same answer as for a new account; only the mailbox's owner learns that the address was tried.
        ctx.background('account-exists mail', async () => {
          if (!(await withinRateLimit(ctx.limiter, `mail-account:${ctx.limiterKey(email)}`, ctx.rateLimits.mailPerAccount))) return
          await ctx.mailer.send({
            to: email,
            subject: 'Someone tried to register with your address',
            text: `Someone tried to create an account with this address, which already has one. Nothing changed.\n\nIf it was you, sign in at ${ctx.publicUrl}/account (or reset your password there).\nIf not, you can ignore this message.\n`,
          })
        })
      }
      if (span.isRecording()) span.setAttribute(ATTR.outcome, 'accepted')
      return reply.code(202).send()
    }),
  )

  app.post<{ Body: { email: string; password: string; device_name?: string } }>('/auth/login', {
    schema: {
      summary: 'Sign in with email and password',
      body: {
        type: 'object',
        required: ['email', 'password'],
        properties: { email: s.email, password: s.password, device_name: { type: 'string', description: 'cut to 64 characters, as a long User-Agent is cut' } },
      },
      response: { 200: s.tokenResponse },
    },
  }, (request, reply) =>
    inSpan(tracer, SPAN.signIn, undefined, async (span) => {
      try {
        const email = normaliseEmail(request.body.email)
        if (!email) throw new HttpProblem('ERR_VALIDATION', 'email is not a valid address')
        // Before the rate limits: a nonce round trip must not cost the user a login attempt.
        const proof = await signInProof(request, ctx.auth)
        // Every attempt from one address counts (each costs an argon2 run); per account, only failures do.
        await enforceRateLimit(ctx.limiter, `login-ip:${clientBucket(request)}`, ctx.rateLimits.loginPerIp)
        // A browser that once signed in to this account is judged on its own failures, not on a stranger's.
        const deviceId = ctx.deviceCookies.verify(request.cookies[DEVICE_COOKIE], email, Date.now())
        const lockoutKey = deviceId ? `login-device:${deviceId}` : `login-account:${ctx.limiterKey(email)}`
        await ctx.loginLockout.assertOpen(lockoutKey)
        const user = await db(() => ctx.users.findByEmail(email))
        // Unknown email and wrong password take the same path, the same time and the same answer.
        const valid = user ? await verifyPassword(user.passwordHash, request.body.password) : await verifyAgainstDummy(request.body.password)
        if (!user || !valid) {
          await ctx.loginLockout.recordFailure(lockoutKey)
          throw new HttpProblem('ERR_INVALID_CREDENTIALS', 'email or password is wrong')
        }
        const tokens = await ctx.auth.createSession({
          userId: user.userId,
          device: { userAgent: request.headers['user-agent'] ?? '', ip: clientAddress(request), name: request.body.device_name ?? '' },
          ...(proof ? { dpop: proof } : {}),
        })
        setDeviceCookie(request, reply, ctx, email)
        if (span.isRecording()) span.setAttributes({ [ATTR.outcome]: 'success', [ATTR.userHash]: ctx.auth.userHash(user.userId) })
        ctx.metrics.logins.inc({ outcome: 'success' })
        return await sendTokens(request, reply, ctx, tokens, isBrowserClient(request))
      } catch (err) {
        ctx.metrics.logins.inc({ outcome: outcomeOf(err) })
        throw err
      }
    }),
  )

  app.post<{ Body: { refresh_token?: string } | undefined }>('/auth/refresh', {
    schema: {
      summary: 'Exchange a refresh token for a new pair (rotation)',
      body: { type: 'object', properties: { refresh_token: s.opaqueToken } },
      response: { 200: s.tokenResponse },
    },
  }, async (request, reply) => {
    try {
      const { token, fromCookie } = refreshTokenFrom(request, ctx, request.body?.refresh_token)
      await enforceRateLimit(ctx.limiter, `refresh-ip:${clientBucket(request)}`, ctx.rateLimits.refreshPerIp)
      const tokens = await refreshOrRevoked(ctx, token, dpopPresentation(request))
      ctx.metrics.refreshes.inc({ outcome: 'success' })
      return await sendTokens(request, reply, ctx, tokens, fromCookie || isBrowserClient(request))
    } catch (err) {
      ctx.metrics.refreshes.inc({ outcome: outcomeOf(err) })
      throw err
    }
  })

  // The account page asks once when it finds no session hint: a browser signed in before the hint existed holds the
  // refresh cookie (sent only under /auth/refresh, so here too) and no hint. Whether that session is still alive is
  // the refresh's to find out. A 204 either way, so a signed-out browser's visit shows no failed request.
  app.get('/auth/refresh/session-hint', {
    schema: { summary: 'Set the session hint from the refresh cookie (account page; 204 with or without a session)', response: { 204: s.noContent } },
  }, async (request, reply) => {
    setSessionHint(request, reply, ctx, Boolean(request.cookies[REFRESH_COOKIE]))
    return reply.code(204).send()
  })

  app.post('/auth/logout', {
    config: { tessera: true },
    schema: { summary: 'End this session', response: { 204: s.noContent } },
  }, async (request, reply) => {
    await ctx.auth.revokeSession(authOf(request).sessionId, { reason: 'logout' })
    clearRefreshCookie(request, reply, ctx)
    return reply.code(204).send()
  })

  app.post<{ Body: { except_current?: boolean } | undefined }>('/auth/logout-all', {
    config: { tessera: true },
    schema: {
      summary: 'End every session of this user (optionally all but this one)',
      body: { type: 'object', properties: { except_current: { type: 'boolean' } } },
      response: { 204: s.noContent },
    },
  }, async (request, reply) => {
    const claims = authOf(request)
    const keep = request.body?.except_current === true
    await ctx.auth.revokeAllSessions(claims.userId, { reason: 'logout', ...(keep ? { exceptSessionId: claims.sessionId } : {}) })
    if (!keep) clearRefreshCookie(request, reply, ctx)
    return reply.code(204).send()
  })

  app.get('/auth/me', {
    config: { tessera: true },
    schema: {
      summary: 'Who the access token belongs to',
      response: {
        200: {
          type: 'object',
          properties: { user_id: { type: 'string' }, email: { type: 'string' }, email_verified: { type: 'boolean' }, session_id: { type: 'string' } },
        },
      },
    },
  }, async (request) => {
    const claims = authOf(request)
    const user = await db(() => ctx.users.findById(claims.userId))
    if (!user) throw new HttpProblem('ERR_UNAUTHENTICATED', 'the account no longer exists')
    return { user_id: user.userId, email: user.email, email_verified: user.emailVerified, session_id: claims.sessionId }
  })
}
