import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { assertUserId, parseSessionId } from '@tessera/core'
import { bearerToken } from '@tessera/verifier'
import type { ServerContext } from '../context.js'
import { HttpProblem } from '../http-errors.js'
import * as s from '../schemas.js'
import { sessionView } from '../session-view.js'
import { db } from '../user-database.js'

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/** Constant-time check of the admin bearer secret (digests first, so lengths cannot leak). */
function isAdmin(request: FastifyRequest, expected: Buffer): boolean {
  const token = bearerToken(request.headers.authorization)
  return token !== null && timingSafeEqual(digest(token), expected)
}

/**
 * Admin routes, behind `Authorization: Bearer <TESSERA_ADMIN_TOKEN>`. Not
 * registered at all when no admin token is configured.
 */
export function registerAdminRoutes(app: FastifyInstance, ctx: ServerContext): void {
  if (!ctx.adminToken) return
  const expected = digest(ctx.adminToken)
  const onRequest = async (request: FastifyRequest) => {
    if (!isAdmin(request, expected)) throw new HttpProblem('ERR_UNAUTHENTICATED', 'admin routes need "Authorization: Bearer <admin token>"')
  }
  // A user id the database does not know is a typo, not a user with nothing to revoke. One core
  // would refuse (a NUL, which PostgreSQL refuses too) is bad input: 400 before the database sees it.
  const knownUser = async (userId: string) => {
    assertUserId(userId)
    if (!(await db(() => ctx.users.findById(userId)))) throw new HttpProblem('ERR_NOT_FOUND', 'no such user')
  }

  app.get<{ Params: { user_id: string } }>('/admin/users/:user_id/sessions', {
    onRequest,
    schema: { summary: "List a user's live sessions", params: s.userIdParam, response: { 200: s.sessionList } },
  }, async (request) => {
    await knownUser(request.params.user_id)
    const sessions = await ctx.auth.listSessions(request.params.user_id)
    return { sessions: sessions.map((info) => sessionView(info, null)) }
  })

  app.delete<{ Params: { session_id: string } }>('/admin/sessions/:session_id', {
    onRequest,
    schema: { summary: 'End one session', params: s.sessionIdParam, response: { 204: s.noContent } },
  }, async (request, reply) => {
    if (!parseSessionId(request.params.session_id)) throw new HttpProblem('ERR_SESSION_NOT_FOUND', 'no such session')
    const existed = await ctx.auth.revokeSession(request.params.session_id, { reason: 'revoked' })
    if (!existed) throw new HttpProblem('ERR_SESSION_NOT_FOUND', 'no such session')
    return reply.code(204).send()
  })

  app.post<{ Params: { user_id: string } }>('/admin/users/:user_id/revoke-sessions', {
    onRequest,
    schema: {
      summary: 'End every session of a user',
      params: s.userIdParam,
      response: { 200: { type: 'object', properties: { revoked: { type: 'integer' } } } },
    },
  }, async (request) => {
    await knownUser(request.params.user_id)
    return { revoked: await ctx.auth.revokeAllSessions(request.params.user_id, { reason: 'revoked' }) }
  })

  app.post<{ Params: { user_id: string }; Body: { until?: string; reason?: string } | undefined }>('/admin/users/:user_id/ban', {
    onRequest,
    schema: {
      summary: 'Ban a user (until a time, or until unbanned); every session ends',
      params: s.userIdParam,
      body: { type: 'object', properties: { until: { type: 'string', format: 'date-time' }, reason: { type: 'string', maxLength: 200 } } },
      response: { 200: { type: 'object', properties: { revoked: { type: 'integer' }, until: { type: ['string', 'null'] } } } },
    },
  }, async (request) => {
    await knownUser(request.params.user_id)
    const until = request.body?.until === undefined ? undefined : Date.parse(request.body.until)
    const revoked = await ctx.auth.banUser(request.params.user_id, { ...(until === undefined ? {} : { until }), reason: request.body?.reason ?? '' })
    return { revoked, until: until === undefined ? null : new Date(until).toISOString() }
  })

  app.post<{ Params: { user_id: string } }>('/admin/users/:user_id/unban', {
    onRequest,
    schema: { summary: 'Lift a ban', params: s.userIdParam, response: { 200: { type: 'object', properties: { unbanned: { type: 'boolean' } } } } },
  }, async (request) => {
    await knownUser(request.params.user_id)
    return { unbanned: await ctx.auth.unbanUser(request.params.user_id) }
  })

  app.get<{ Querystring: { limit?: number } }>('/admin/webhooks/dead-letters', {
    onRequest,
    schema: {
      summary: 'Webhook deliveries given up on, newest first (the event bodies carry ids only)',
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } } },
      response: {
        200: {
          type: 'object',
          properties: {
            dead_letters: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  message_id: { type: 'string' }, endpoint: { type: 'string' }, attempts: { type: 'integer' },
                  queued_at: { type: 'string' }, failed_at: { type: 'string' }, error: { type: 'string' }, payload: { type: 'string' },
                },
              },
            },
          },
        },
      },
    },
  }, async (request) => {
    const dead = await ctx.securityEvents.deadLetters(request.query.limit ?? 100)
    return {
      dead_letters: dead.map((d) => ({
        message_id: d.messageId, endpoint: d.destination, attempts: d.attempt,
        queued_at: new Date(d.queuedAtMs).toISOString(), failed_at: new Date(d.failedAtMs).toISOString(), error: d.error, payload: d.payload,
      })),
    }
  })

  app.post('/admin/keys/rotate', {
    onRequest,
    schema: {
      summary: 'Make a new signing key; the old one verifies until its last token expires',
      response: { 200: { type: 'object', properties: { key_id: { type: 'string' }, key_ids: { type: 'array', items: { type: 'string' } } } } },
    },
  }, async () => {
    // With a shared key set this writes the store, and every instance follows; otherwise it saves the data dir.
    const { keyId, keyIds } = await ctx.auth.rotateSigningKeys()
    if (ctx.saveKeys) await ctx.saveKeys()
    return { key_id: keyId, key_ids: keyIds }
  })
}
