import type { FastifyInstance } from 'fastify'
import { OneTimeTokenInvalid } from '@tessera/core'
import { authOf } from '@tessera/verifier/fastify'
import type { ServerContext } from '../context.js'
import { HttpProblem } from '../http-errors.js'
import { enforceRateLimit } from '../rate-limiter.js'
import * as s from '../schemas.js'
import { db } from '../user-database.js'

const PURPOSE = 'email-verification'

/** Email verification: request a mail (signed in), confirm with its token. */
export function registerEmailVerificationRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/auth/email-verification', {
    config: { tessera: true },
    schema: { summary: 'Mail me a verification link', response: { 202: s.accepted } },
  }, async (request, reply) => {
    const claims = authOf(request)
    await enforceRateLimit(ctx.limiter, `verify-mail:${claims.userId}`, ctx.rateLimits.sensitivePerIp)
    const user = await db(() => ctx.users.findById(claims.userId))
    if (!user) throw new HttpProblem('ERR_UNAUTHENTICATED', 'the account no longer exists')
    if (user.emailVerified) return reply.code(202).send()
    // The token names the address it verifies, so it cannot verify a different one later.
    const { token } = await ctx.auth.issueOneTimeToken(user.userId, PURPOSE, { ttlSeconds: ctx.emailVerificationTtlSeconds, data: user.email })
    try {
      await ctx.mailer.send({
        to: user.email,
        subject: 'Confirm your email address',
        text: `To confirm that this address belongs to you, open this link:\n\n${ctx.publicUrl}/account#verify_token=${token}\n\nIf you did not ask for this, ignore this message.\n`,
      })
    } catch (err) {
      throw new HttpProblem('ERR_MAIL_UNAVAILABLE', 'the verification mail could not be sent; try again shortly', { cause: err })
    }
    return reply.code(202).send()
  })

  app.post<{ Body: { token: string } }>('/auth/email-verification/confirm', {
    schema: {
      summary: 'Confirm my email address with the mailed token',
      body: { type: 'object', required: ['token'], properties: { token: s.opaqueToken } },
      response: { 204: s.noContent },
    },
  }, async (request, reply) => {
    const { userId, data } = await ctx.auth.consumeOneTimeToken(request.body.token, PURPOSE)
    const user = await db(() => ctx.users.findById(userId))
    if (!user || user.email !== data) throw new OneTimeTokenInvalid()
    await db(() => ctx.users.setEmailVerified(userId))
    return reply.code(204).send()
  })
}
