import { SpanKind, trace, type Span, type SpanOptions } from '@opentelemetry/api'
import { inSpan, tesseraTracer } from '@tessera/core/internal'

/** Spans of the Redis store (`@tessera/redis`): one client span per script or command round trip. */
export const tracer = tesseraTracer('@tessera/redis')

/** Client spans, as the database semantic conventions describe them; one shared object, nothing allocated per call. */
export const CLIENT_SPAN: SpanOptions = { kind: SpanKind.CLIENT }

/**
 * Attributes of the store's spans: the OTel database semantic conventions
 * (`db.system.name` is `redis`, `db.operation.name` the command,
 * `db.stored_procedure.name` the script), never keys or arguments (keys carry
 * user ids, arguments hashes of secrets).
 */
export const DB_ATTR = {
  system: 'db.system.name',
  operation: 'db.operation.name',
  procedure: 'db.stored_procedure.name',
  /** The Redis error prefix of a failed command (`NOSCRIPT`, `NOPERM`, ...). */
  responseStatus: 'db.response.status_code',
  /** The script's own reply code (see each script's header): 1 done, negative a refusal such as -3 reuse. */
  replyCode: 'tessera.script.reply_code',
} as const

/** The Redis error prefix (`NOPERM`, `WRONGTYPE`) of an error reply, or null. */
function redisErrorPrefix(err: unknown): string | null {
  const match = err instanceof Error ? /^([A-Z]{3,20}) /.exec(err.message) : null
  return match ? match[1]! : null
}

/**
 * Runs one round trip in a client span named `<command> <target>` (the
 * conventions' `{db.operation.name} {target}`), e.g. `EVALSHA rotateRefreshToken`
 * or `HGETALL sessions`. `spanName` is made once by the caller, not per call.
 *
 * @example
 * ```ts
 * const reply = await traceCommand('HMGET getUserState', 'HMGET', null, () => connection.send(args))
 * ```
 */
export function traceCommand<T>(spanName: string, operation: string, procedure: string | null, call: (span: Span) => Promise<T>): Promise<T> {
  return inSpan(tracer, spanName, CLIENT_SPAN, async (span) => {
    if (span.isRecording()) {
      span.setAttribute(DB_ATTR.system, 'redis')
      span.setAttribute(DB_ATTR.operation, operation)
      if (procedure !== null) span.setAttribute(DB_ATTR.procedure, procedure)
    }
    try {
      return await call(span)
    } catch (err) {
      const prefix = redisErrorPrefix(err)
      if (prefix !== null && span.isRecording()) span.setAttribute(DB_ATTR.responseStatus, prefix)
      throw err
    }
  })
}

/**
 * {@link traceCommand} for a read that also runs on a background timer: a span (a child) when a traced operation
 * asked for it, none when the timer did (a root span per poll, work or not, would only be noise).
 */
export function traceCommandIfParent<T>(spanName: string, operation: string, call: () => Promise<T>): Promise<T> {
  return trace.getActiveSpan() === undefined ? call() : traceCommand(spanName, operation, null, call)
}
