import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AuthError, UserBanned } from '@tessera/core'
import { missingTokenChallenge } from '@tessera/verifier'
import { notFoundHandler } from '@tessera/verifier/fastify'
import { HashingUnavailable } from '../../users/hashing-pool.js'
import { authProblem, HttpProblem, problemBody, UNAVAILABLE_RETRY_AFTER_SECONDS, type ProblemCode } from '../http-errors.js'

/** Sends an RFC 9457 problem+json reply. */
export function sendProblem(reply: FastifyReply, code: ProblemCode, detail: string, headers: Record<string, string> = {}, status?: number): FastifyReply {
  const body = problemBody(code, detail, status)
  if (body.status === 503 && !headers['retry-after']) headers['retry-after'] = String(UNAVAILABLE_RETRY_AFTER_SECONDS)
  // RFC 7235: every 401 names a scheme (the bare challenge the verifier sends for a missing token); RFC 6750 adds
  // error="invalid_token" when the access token was the problem.
  if (body.status === 401 && !headers['www-authenticate']) {
    headers['www-authenticate'] = code.startsWith('ERR_ACCESS_TOKEN') || code === 'ERR_SESSION_REVOKED' ? 'Bearer error="invalid_token"' : missingTokenChallenge()
  }
  return reply.code(body.status).headers(headers).type('application/problem+json').send(body)
}

/** What a thrown error becomes on the wire: a code and a detail that leak nothing. */
export function classify(err: unknown): { code: ProblemCode; detail: string; headers: Record<string, string>; status?: number } {
  if (err instanceof HttpProblem) return { code: err.code, detail: err.message, headers: { ...err.headers }, status: err.status }
  if (err instanceof HashingUnavailable) {
    // Shed before the queue makes everyone wait: the client learns when to come back.
    return { code: 'ERR_PASSWORD_CHECKS_BUSY', detail: err.message, headers: { 'retry-after': String(err.retryAfterSeconds) } }
  }
  if (err instanceof AuthError) {
    // Core messages are written to be shown: they never hold a token or a secret.
    const detail = err instanceof UserBanned ? (err.until === null ? 'this account is banned' : `this account is banned until ${new Date(err.until).toISOString()}`) : undefined
    const problem = authProblem(err, { endpoint: 'api' }, detail)
    return { code: problem.code, detail: problem.message, headers: problem.headers, status: problem.status }
  }
  const fastifyError = err as Partial<FastifyError>
  if (fastifyError.validation) return { code: 'ERR_VALIDATION', detail: fastifyError.message ?? 'invalid request', headers: {} }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'ERR_PAYLOAD_TOO_LARGE', detail: 'request body is larger than the server accepts', headers: {} }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'ERR_UNSUPPORTED_MEDIA_TYPE', detail: 'send the body as application/json', headers: {} }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { code: 'ERR_BAD_REQUEST', detail: 'request body is empty', headers: {} }
  }
  const status = fastifyError.statusCode ?? 500
  // Parser messages can quote the body (and so a token): say what is wrong, not what was sent.
  if (status === 413) return { code: 'ERR_PAYLOAD_TOO_LARGE', detail: 'request is larger than the server accepts', headers: {} }
  if (status === 415) return { code: 'ERR_UNSUPPORTED_MEDIA_TYPE', detail: 'unsupported content type', headers: {} }
  if (status >= 400 && status < 500) return { code: 'ERR_BAD_REQUEST', detail: 'request is malformed (check the JSON body and headers)', headers: {} }
  return { code: 'ERR_INTERNAL', detail: 'internal error', headers: {} }
}

/** A failure on our side whose answer is deliberately generic, so the reason goes to the log instead. */
const OUTAGES: ReadonlySet<ProblemCode> = new Set(['ERR_STORE_UNAVAILABLE', 'ERR_RATE_LIMITER_UNAVAILABLE', 'ERR_DATABASE_UNAVAILABLE', 'ERR_MAIL_UNAVAILABLE'])

/**
 * Logs what an answer leaves out: an internal error at error, an outage (503) at warn with its reason, such as
 * which deadline passed and how long the call waited, so a 503 in a test or in production says what failed.
 * Message, code and the causes' messages only: stacks stay out of logs and responses alike.
 */
export function logFailure(log: FastifyBaseLogger, err: unknown, code: ProblemCode): void {
  if (code !== 'ERR_INTERNAL' && !OUTAGES.has(code)) return
  const e = err as { message?: unknown; code?: unknown; name?: unknown; cause?: unknown }
  const causes: string[] = []
  for (let cause = e.cause, depth = 0; cause instanceof Error && depth < 3; cause = cause.cause, depth++) causes.push(cause.message)
  const summary = { name: e.name, message: e.message, code: e.code, ...(causes.length > 0 ? { cause: causes.join(': ') } : {}) }
  if (code === 'ERR_INTERNAL') log.error({ err: summary }, 'request failed')
  else log.warn({ err: summary, problem: code }, 'request refused: unavailable')
}

async function errors(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { code, detail, headers, status } = classify(err)
    logFailure(request.log, err, code)
    return sendProblem(reply, code, detail, headers, status)
  })
  app.setNotFoundHandler(notFoundHandler)
}

/** Headers every answer carries: no MIME sniffing, and no shared cache keeps an answer about a person. */
export function setSecurityHeaders(reply: FastifyReply, personal = true): void {
  reply.header('x-content-type-options', 'nosniff')
  if (personal) reply.header('cache-control', 'no-store')
}

/** Turns every error into problem+json, with no stack and no echo of the request. */
export const errorsPlugin = fp(errors, { fastify: '5.x', name: 'tessera-errors' })
