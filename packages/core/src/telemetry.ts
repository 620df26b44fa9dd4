import { context, INVALID_SPAN_CONTEXT, SpanStatusCode, trace, type Span, type SpanOptions, type Tracer } from '@opentelemetry/api'

/**
 * OpenTelemetry for every Tessera package, through `@opentelemetry/api` only:
 * with no SDK registered the API hands out non-recording spans and this
 * costs a function call or two per operation. Each package makes its tracer
 * with {@link tesseraTracer} and names its spans and attributes in one
 * module of its own; the names every package shares are here.
 *
 * What a span may carry: modes, outcomes, error codes, counts, store kinds,
 * script names, and a user as {@link Tessera.userHash} (keyed, so it cannot
 * be reversed or recomputed without the token key). Never a token, secret,
 * refresh token, password, email, raw user or session id, or anything
 * derived from a secret; error messages are left out too (they may quote input).
 */
export const ATTR = {
  /** OTel semantic convention: the error's stable code (`ERR_REFRESH_TOKEN_REUSED`), else its class name. */
  errorType: 'error.type',
  /** What the operation decided: `valid`, `rotated`, `retried`, `revoked`, or the error code. */
  outcome: 'tessera.outcome',
  /** Verification mode: `signature`, `strict`, `cached`. */
  verifyMode: 'tessera.verify.mode',
  /** The store kind behind an operation: `memory` or `redis`. */
  storeKind: 'tessera.store.kind',
  /** Keyed hash of the user id (hex, 16 characters); the same for one user across a fleet sharing a token key. */
  userHash: 'tessera.user.hash',
} as const

/** Value of `error.type` when nothing better is known (the semantic conventions' fallback). */
const OTHER = '_OTHER'
const CODE = /^[A-Z][A-Z0-9_]{1,63}$/

/** `error.type` of an error: its stable code when it has one (ours, node's `ECONNREFUSED`), else its class name. */
export function errorType(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' && CODE.test(code) ? code : err.name || OTHER
  }
  return OTHER
}

/**
 * Marks a span failed the way the semantic conventions say: status ERROR
 * and `error.type`, plus `tessera.outcome` with the same code. The status
 * description is the code as well, never the message (which may quote input).
 */
export function failSpan(span: Span, err: unknown): void {
  if (!span.isRecording()) return
  const type = errorType(err)
  span.setAttribute(ATTR.errorType, type)
  span.setAttribute(ATTR.outcome, type)
  span.setStatus({ code: SpanStatusCode.ERROR, message: type })
}

/** One non-recording span for every call while tracing is off: no allocation at all. */
const OFF_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT)

/** The tracer handed out while `TESSERA_TRACING=off`: every span is {@link OFF_SPAN}. */
const OFF_TRACER: Tracer = {
  startSpan: () => OFF_SPAN,
  startActiveSpan: (...args: unknown[]) => (args.at(-1) as (span: Span) => unknown)(OFF_SPAN),
}

/**
 * True unless the environment says `TESSERA_TRACING=off`, read once at load:
 * Tessera's spans can be dropped while the application's own stay (and the
 * overhead benchmark compares against it).
 */
export const TRACING_ON = (globalThis.process?.env?.TESSERA_TRACING ?? '').toLowerCase() !== 'off'

/**
 * Where API 1.x keeps what an SDK registers (`setGlobalTracerProvider` writes
 * its `trace` member). Every copy of the API in a process shares it: it is how
 * they find one another's registrations.
 */
const API_GLOBAL = Symbol.for('opentelemetry.js.api.1')

/** True once some copy of the API has a tracer provider registered. */
function providerRegistered(): boolean {
  return (globalThis as { [API_GLOBAL]?: { trace?: unknown } })[API_GLOBAL]?.trace !== undefined
}

/**
 * The tracer of one package (`@tessera/core`, ...). The API's proxy tracer
 * picks up an SDK registered later, so a module may make it at load. Until a
 * tracer provider is registered, a span costs one property read: the proxy
 * would otherwise look up its provider and the active context and allocate a
 * non-recording span on every call (about 100 ns on the verifier's cheapest
 * path; bench/otel-overhead.ts --micro-only).
 *
 * @example
 * ```ts
 * const tracer = tesseraTracer('@tessera/redis')
 * ```
 */
export function tesseraTracer(name: string): Tracer {
  if (!TRACING_ON) return OFF_TRACER
  const proxy = trace.getTracer(name)
  return {
    startSpan: (spanName, options, parent) => (providerRegistered() ? proxy.startSpan(spanName, options, parent) : OFF_SPAN),
    // Not used by Tessera (inSpan starts and activates spans itself); passed through for completeness.
    startActiveSpan: proxy.startActiveSpan.bind(proxy),
  }
}

/**
 * Runs `run` in a span: ended when it settles, failed (see {@link failSpan})
 * when it throws. The span is the active one inside `run` only while it
 * records, so spans of calls made inside (a store script) become its
 * children under a context manager. A non-recording span (no SDK, or a trace
 * not sampled) costs no context switch, no attribute and no end call: its
 * `end` does nothing.
 *
 * @example
 * ```ts
 * return inSpan(tracer, 'tessera.refresh', undefined, async (span) => { ... })
 * ```
 */
export async function inSpan<T>(tracer: Tracer, name: string, options: SpanOptions | undefined, run: (span: Span) => Promise<T>): Promise<T> {
  const span = tracer.startSpan(name, options)
  if (!span.isRecording()) return run(span)
  try {
    return await context.with(trace.setSpan(context.active(), span), run, undefined, span)
  } catch (err) {
    failSpan(span, err)
    throw err
  } finally {
    span.end()
  }
}

/** Runs `run` with `span` active when it records (children attach to it), directly otherwise. */
export function withActiveSpan<T>(span: Span, run: () => T): T {
  return span.isRecording() ? context.with(trace.setSpan(context.active(), span), run) : run()
}

/** The engine's tracer (`@tessera/core`). */
export const tracer = tesseraTracer('@tessera/core')

/** The engine's spans: one per operation that takes time or can fail. */
export const SPAN = {
  verify: 'tessera.verify',
  refresh: 'tessera.refresh',
  createSession: 'tessera.session.create',
  revokeSession: 'tessera.session.revoke',
  revokeAllSessions: 'tessera.sessions.revoke_all',
  denyAccessToken: 'tessera.access_token.deny',
  banUser: 'tessera.user.ban',
  unbanUser: 'tessera.user.unban',
  issueOneTimeToken: 'tessera.one_time_token.issue',
  consumeOneTimeToken: 'tessera.one_time_token.consume',
} as const

/** Attributes of the engine's spans, beside {@link ATTR}. */
export const CORE_ATTR = {
  /** Sessions a revoke-all or a ban ended. */
  sessionCount: 'tessera.sessions.count',
  /** Sessions a sign-in ended because of the session limit. */
  evictedCount: 'tessera.sessions.evicted',
  /** Why a session ended: `logout`, `revoked`, `password_changed`, ... */
  reason: 'tessera.revocation.reason',
  /** Device class of a new session (`desktop`, `mobile`, ...). */
  deviceClass: 'tessera.session.device_class',
  /** The session is bound to a DPoP key. */
  dpopBound: 'tessera.session.dpop_bound',
  /** Purpose of a one-time token (`password-reset`, ...). */
  purpose: 'tessera.one_time_token.purpose',
} as const
