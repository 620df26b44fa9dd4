import type { FastifyInstance } from 'fastify'
import { parseSessionId } from '@tessera/core'
import { authOf } from '@tessera/verifier/fastify'
import type { ServerContext } from '../context.js'
import { HttpProblem } from '../http-errors.js'
import * as s from '../schemas.js'
import { sessionView } from '../session-view.js'

/** The signed-in user's own sessions: list and revoke. */
export function registerSessionRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/auth/sessions', {
    config: { tessera: true },
    schema: { summary: 'List my live sessions, newest first', response: { 200: s.sessionList } },
  }, async (request) => {
    const claims = authOf(request)
    const sessions = await ctx.auth.listSessions(claims.userId)
    return { sessions: sessions.map((info) => sessionView(info, claims.sessionId)) }
  })

  app.delete<{ Params: { session_id: string } }>('/auth/sessions/:session_id', {
    config: { tessera: true },
    schema: { summary: 'End one of my sessions', params: s.sessionIdParam, response: { 204: s.noContent } },
  }, async (request, reply) => {
    const claims = authOf(request)
    const target = parseSessionId(request.params.session_id)
    // Another user's session answers exactly like a missing one: ids reveal nothing.
    if (!target || target.userId !== claims.userId) throw new HttpProblem('ERR_SESSION_NOT_FOUND', 'no such session')
    const existed = await ctx.auth.revokeSession(request.params.session_id, { reason: 'logout' })
    if (!existed) throw new HttpProblem('ERR_SESSION_NOT_FOUND', 'no such session')
    return reply.code(204).send()
  })
}
