import type { FastifyInstance } from 'fastify'
import { SPAN, tracer } from '../../telemetry.js'
import { OneTimeTokenInvalid } from '@tessera/core'
import { ATTR, inSpan } from '@tessera/core/internal'
import { authOf } from '@tessera/verifier/fastify'
import { normaliseEmail } from '../../users/email.js'
import { hashPassword, passwordProblem, verifyPassword } from '../../users/password.js'
import { clientBucket } from '../client-address.js'
import type { ServerContext } from '../context.js'
import { HttpProblem } from '../http-errors.js'
import { enforceRateLimit, withBackoff, withinRateLimit } from '../rate-limiter.js'
import * as s from '../schemas.js'
import { db } from '../user-database.js'

const PURPOSE = 'password-reset'

/** Password change (signed in) and password reset by mail. */
export function registerPasswordRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: { current_password: string; new_password: string } }>('/auth/password', {
    config: { tessera: true },
    schema: {
      summary: 'Change my password; every other session ends',
      body: { type: 'object', required: ['current_password', 'new_password'], properties: { current_password: s.password, new_password: s.password } },
      response: { 204: s.noContent },
    },
  }, (request, reply) =>
    inSpan(tracer, SPAN.passwordChange, undefined, async (span) => {
      const claims = authOf(request)
      // A stolen access token must not become an unlimited oracle for the current password.
      await enforceRateLimit(ctx.limiter, `password-change:${claims.userId}`, withBackoff(ctx.rateLimits.loginPerAccount))
      const user = await db(() => ctx.users.findById(claims.userId))
      if (!user) throw new HttpProblem('ERR_UNAUTHENTICATED', 'the account no longer exists')
      if (!(await verifyPassword(user.passwordHash, request.body.current_password))) throw new HttpProblem('ERR_WRONG_PASSWORD', 'current_password is wrong')
      // A "change" to the same password changes nothing, yet would sign every other device out.
      if (request.body.new_password === request.body.current_password) throw new HttpProblem('ERR_WEAK_PASSWORD', 'new_password is the current password; choose a different one')
      const problem = passwordProblem(request.body.new_password, user.email)
      if (problem) throw new HttpProblem('ERR_WEAK_PASSWORD', problem)
      const passwordHash = await hashPassword(request.body.new_password)
      await db(() => ctx.users.setPasswordHash(user.userId, passwordHash))
      // A reset link mailed before the change (seen by someone else, perhaps) must not undo it.
      await ctx.auth.revokeOneTimeTokens(user.userId, [PURPOSE])
      await ctx.auth.revokeAllSessions(user.userId, { exceptSessionId: claims.sessionId, reason: 'password_changed' })
      ctx.securityEvents.passwordChanged(user.userId, 'changed')
      if (span.isRecording()) span.setAttributes({ [ATTR.outcome]: 'changed', [ATTR.userHash]: ctx.auth.userHash(user.userId) })
      return reply.code(204).send()
    }),
  )

  app.post<{ Body: { email: string } }>('/auth/password-reset', {
    schema: {
      summary: 'Mail a password-reset link (always 202, whether or not the account exists)',
      body: { type: 'object', required: ['email'], properties: { email: s.email } },
      response: { 202: s.accepted },
    },
  }, async (request, reply) => {
    await enforceRateLimit(ctx.limiter, `password-reset-ip:${clientBucket(request)}`, ctx.rateLimits.sensitivePerIp)
    const email = normaliseEmail(request.body.email)
    if (!email) throw new HttpProblem('ERR_VALIDATION', 'email is not a valid address')
    // Everything that depends on whether the account exists happens after the answer.
    ctx.background('password-reset mail', async () => {
      // A daily cap per account: the reset form must not become a way to flood someone's inbox.
      if (!(await withinRateLimit(ctx.limiter, `mail-account:${ctx.limiterKey(email)}`, ctx.rateLimits.mailPerAccount))) return
      const user = await ctx.users.findByEmail(email)
      if (!user) return
      const { token } = await ctx.auth.issueOneTimeToken(user.userId, PURPOSE, { ttlSeconds: ctx.passwordResetTtlSeconds })
      const minutes = Math.round(ctx.passwordResetTtlSeconds / 60)
      await ctx.mailer.send({
        to: user.email,
        subject: 'Reset your password',
        text: `Someone asked to reset the password of your account.\n\nTo choose a new password, open this link within ${minutes} minutes:\n\n${ctx.publicUrl}/account#reset_token=${token}\n\nIf it was not you, ignore this message: your password stays as it is.\n`,
      })
    })
    return reply.code(202).send()
  })

  // The page checks a mailed link before it shows the form, so a used or expired one is said to be dead at once.
  app.post<{ Body: { token: string } }>('/auth/password-reset/check', {
    schema: {
      summary: 'Check a mailed reset token without using it: {valid: false} when used, expired, replaced or not ours',
      body: { type: 'object', required: ['token'], properties: { token: s.opaqueToken } },
      response: { 200: { type: 'object', required: ['valid'], properties: { valid: { type: 'boolean' } } } },
    },
  }, async (request) => {
    await enforceRateLimit(ctx.limiter, `password-reset-check-ip:${clientBucket(request)}`, ctx.rateLimits.sensitivePerIp)
    // An answer, not an error: a dead link is an expected state, and a 4xx would be a console error on the page.
    return { valid: await ctx.auth.checkOneTimeToken(request.body.token, PURPOSE) }
  })

  app.post<{ Body: { token: string; new_password: string } }>('/auth/password-reset/confirm', {
    schema: {
      summary: 'Set a new password with the mailed token; every session ends',
      body: { type: 'object', required: ['token', 'new_password'], properties: { token: s.opaqueToken, new_password: s.password } },
      response: { 204: s.noContent },
    },
  }, (request, reply) =>
    inSpan(tracer, SPAN.passwordReset, undefined, async (span) => {
      // Check the policy first, so a weak password does not burn the token.
      const early = passwordProblem(request.body.new_password)
      if (early) throw new HttpProblem('ERR_WEAK_PASSWORD', early)
      const { userId } = await ctx.auth.consumeOneTimeToken(request.body.token, PURPOSE)
      const user = await db(() => ctx.users.findById(userId))
      if (!user) throw new OneTimeTokenInvalid()
      const passwordHash = await hashPassword(request.body.new_password)
      await db(() => ctx.users.setPasswordHash(userId, passwordHash))
      // The mail reached the inbox, so the address is proven too.
      if (!user.emailVerified) await db(() => ctx.users.setEmailVerified(userId))
      // A link requested again while this one was open is outstanding too.
      await ctx.auth.revokeOneTimeTokens(userId, [PURPOSE])
      await ctx.auth.revokeAllSessions(userId, { reason: 'password_changed' })
      ctx.securityEvents.passwordChanged(userId, 'reset')
      if (span.isRecording()) span.setAttributes({ [ATTR.outcome]: 'reset', [ATTR.userHash]: ctx.auth.userHash(userId) })
      return reply.code(204).send()
    }),
  )
}
