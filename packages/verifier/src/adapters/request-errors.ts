import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { PROBLEM_CONTENT_TYPE, REQUEST_ERROR_HTTP, problemBody, type ProblemBody, type RequestErrorCode } from '../problem-details.js'

// Answers to requests refused before any route ran, for every Fastify app of ours
// (the auth server, the gateway) and for services that protect routes with the
// Fastify adapter: they all receive Authorization on every request, so none may
// echo a URL or log the raw bytes of a request.

function requestProblem(code: RequestErrorCode, detail: string, status: number = REQUEST_ERROR_HTTP[code].status): ProblemBody {
  return problemBody(code, detail, status, REQUEST_ERROR_HTTP[code].title)
}

/**
 * Fastify's not-found handler: 404 problem+json that says nothing matched,
 * never what was asked (the path may hold a token: a mistyped route, a pasted
 * link). Headers are left to the app's `onSend` hooks, which run for it.
 *
 * @example
 * ```ts
 * app.setNotFoundHandler(notFoundHandler)
 * ```
 */
export function notFoundHandler(_request: FastifyRequest, reply: FastifyReply): void {
  void reply.code(404).type(PROBLEM_CONTENT_TYPE).send(requestProblem('ERR_NOT_FOUND', 'no route for this method and path'))
}

/**
 * Fastify's `frameworkErrors`: URL-level failures (a malformed percent-escape,
 * a path parameter over the length limit) that happen before routing, so no
 * hook runs. They get problem+json with `nosniff` and `no-store` set here, and
 * never echo the URL.
 *
 * @example
 * ```ts
 * const app = Fastify({ frameworkErrors: frameworkErrorHandler, clientErrorHandler })
 * ```
 */
export function frameworkErrorHandler(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const body = err.code === 'FST_ERR_MAX_PARAM_LENGTH'
    ? requestProblem('ERR_URI_TOO_LONG', 'a path segment is longer than the server accepts')
    : requestProblem('ERR_BAD_REQUEST', 'the URL is malformed')
  void reply.code(body.status).header('x-content-type-options', 'nosniff').header('cache-control', 'no-store').type(PROBLEM_CONTENT_TYPE).send(body)
}

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refused (bad
 * syntax, headers too large, too slow). Fastify's default logs the error
 * whole at trace level, and Node puts the raw request bytes on it
 * (`rawPacket`, Authorization header included): this logs the parser's code
 * only, and answers problem+json like every other error. Keep
 * `err.rawPacket` in the logger's redact list too, for any other path an
 * error may take to a log line.
 */
export function clientErrorHandler(this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
  this.log.trace({ clientError: { code: err.code ?? 'unknown', status } }, 'client error')
  if (socket.writable) {
    const detail = status === 408 ? 'the request took too long to arrive' : status === 431 ? 'the request headers are larger than the server accepts' : 'the request is not valid HTTP'
    const body = JSON.stringify(requestProblem('ERR_BAD_REQUEST', detail, status))
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy()
}
