import type { FastifyInstance } from 'fastify'
import { authOf } from '@tessera/verifier/fastify'

/** An example protected route: strict verification, then the caller's ids. */
export function registerDemoRoutes(app: FastifyInstance): void {
  app.get('/demo/protected', {
    config: { tessera: true },
    schema: {
      summary: 'Example protected route (strict verification)',
      response: { 200: { type: 'object', properties: { user_id: { type: 'string' }, session_id: { type: 'string' } } } },
    },
  }, async (request) => {
    const claims = authOf(request)
    return { user_id: claims.userId, session_id: claims.sessionId }
  })
}
