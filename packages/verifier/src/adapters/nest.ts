import {
  Catch,
  HttpException,
  Inject,
  Injectable,
  SetMetadata,
  createParamDecorator,
  type ArgumentsHost,
  type CanActivate,
  type CustomDecorator,
  type DynamicModule,
  type ExceptionFilter,
  type ExecutionContext,
} from '@nestjs/common'
import { APP_FILTER, APP_GUARD, HttpAdapterHost, Reflector } from '@nestjs/core'
import type { AccessTokenClaims } from '@tessera/core'
import { decide, type AuthOutcome } from '../http-problem.js'
import { PROBLEM_CONTENT_TYPE, type AuthProblem } from '../problem-details.js'
import type { Verifier } from '../verifier.js'
import { authOf } from './auth-of.js'

// NestJS uses legacy (experimentalDecorators) decorators. This file applies them as plain function calls
// (at the end) instead of `@` syntax, so it compiles under the repo's TC39-decorator settings and works
// in applications built with either.

/** Injection token of the {@link Verifier} the guard uses. */
export const TESSERA_VERIFIER = Symbol.for('tessera.verifier')
/** Injection token of the resolved {@link TesseraNestOptions}. */
export const TESSERA_OPTIONS = Symbol.for('tessera.options')
/** Metadata key read by the guard: `true` protect, `false` leave open, `'optional'` verify only when a token is sent. */
export const TESSERA_ROUTE = 'tessera:route'

/** What a handler or controller may say about protection (the Fastify plugin's `config.tessera`). */
export type TesseraRouteSetting = boolean | 'optional'

/** Options of {@link TesseraModule.forRoot}. */
export interface TesseraNestOptions {
  verifier: Verifier
  /** Protect every route unless it says otherwise with {@link Public} or {@link OptionalAuth}. Default true. */
  protectByDefault?: boolean
  /** `realm` of the `WWW-Authenticate` challenge. */
  realm?: string
}

interface RequestWithAuth {
  headers: Record<string, string | string[] | undefined>
  method: string
  /** Express and Fastify both: follows X-Forwarded-Proto only when the app trusts its proxy. */
  protocol: string
  /** Express 5 and Fastify both: host and port, X-Forwarded-Host only when trusted. */
  host: string
  url: string
  /** Express only: the URL before routers rewrote `url`. */
  originalUrl?: string
  auth?: AccessTokenClaims | null
}

/** Marks a handler or controller as open: the guard does not look at it, {@link Claims} gives null. */
export const Public = (): CustomDecorator<string> => SetMetadata(TESSERA_ROUTE, false)

/** Marks a handler or controller as optional: a request without a token gets through with null claims; a bad token is still refused. */
export const OptionalAuth = (): CustomDecorator<string> => SetMetadata(TESSERA_ROUTE, 'optional')

/**
 * Parameter decorator for the verified {@link AccessTokenClaims}, or null (on open routes and on
 * optional routes without a token). On a protected route use {@link RequiredClaims}, which is
 * never null.
 *
 * @example
 * ```ts
 * @OptionalAuth() @Get('catalogue') catalogue(@Claims() claims: AccessTokenClaims | null) { return list(claims?.userId) }
 * ```
 */
export const Claims = createParamDecorator((_data: unknown, context: ExecutionContext): AccessTokenClaims | null => {
  return context.switchToHttp().getRequest<RequestWithAuth>().auth ?? null
})

/**
 * Parameter decorator for the verified {@link AccessTokenClaims} of a protected route: never
 * null, so `claims: AccessTokenClaims` is the honest type (as `authOf` is for Fastify and
 * Express). On a route without claims (open, or optional without a token) it throws a
 * `TypeError`: a wiring mistake, never a client's, answered 500 by Nest.
 *
 * @example
 * ```ts
 * @Get('me') me(@RequiredClaims() claims: AccessTokenClaims) { return { userId: claims.userId } }
 * ```
 */
export const RequiredClaims = createParamDecorator((_data: unknown, context: ExecutionContext): AccessTokenClaims => {
  return authOf(context.switchToHttp().getRequest<RequestWithAuth>())
})

/** Thrown by the guard; {@link TesseraProblemFilter} turns it into the same answer the other adapters send. */
export class TesseraAuthRefused extends HttpException {
  constructor(readonly problem: AuthProblem) {
    super(problem.body, problem.status)
  }
}

/**
 * Guard that verifies the bearer access token and puts its claims on `request.auth`. Refusals are
 * thrown as {@link TesseraAuthRefused}, which {@link TesseraProblemFilter} answers with 401 +
 * `WWW-Authenticate` + problem+json, or 503 when revocation state cannot be read.
 */
export class TesseraGuard implements CanActivate {
  private readonly verifier: Verifier
  private readonly fallback: TesseraRouteSetting
  private readonly realm: string | undefined

  constructor(
    options: TesseraNestOptions,
    private readonly reflector: Reflector,
  ) {
    this.verifier = options.verifier
    this.fallback = options.protectByDefault ?? true
    this.realm = options.realm
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true
    const setting = this.reflector.getAllAndOverride<TesseraRouteSetting | undefined>(TESSERA_ROUTE, [context.getHandler(), context.getClass()]) ?? this.fallback
    if (setting === false) return true
    const request = context.switchToHttp().getRequest<RequestWithAuth>()
    const outcome = decide(
      this.verifier,
      {
        authorization: request.headers.authorization,
        dpop: request.headers.dpop,
        method: request.method,
        url: `${request.protocol}://${request.host}${request.originalUrl ?? request.url}`,
      },
      { optional: setting === 'optional', realm: this.realm },
    )
    return outcome instanceof Promise ? outcome.then((o) => admit(request, o)) : admit(request, outcome)
  }
}

function admit(request: RequestWithAuth, outcome: AuthOutcome): boolean {
  if (!outcome.ok) throw new TesseraAuthRefused(outcome.problem)
  request.auth = outcome.claims
  return true
}

/** Writes a {@link TesseraAuthRefused} as problem+json with its headers, on either Nest HTTP platform. */
export class TesseraProblemFilter implements ExceptionFilter<TesseraAuthRefused> {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: TesseraAuthRefused, host: ArgumentsHost): void {
    const adapter = this.adapterHost.httpAdapter
    const response: unknown = host.switchToHttp().getResponse()
    const { problem } = exception
    for (const [name, value] of Object.entries(problem.headers)) adapter.setHeader(response, name, value)
    adapter.setHeader(response, 'content-type', PROBLEM_CONTENT_TYPE)
    // A string body: the platforms keep the content type we set (an object would be sent as application/json).
    adapter.reply(response, JSON.stringify(problem.body), problem.status)
  }
}

/**
 * Registers {@link TesseraGuard} and {@link TesseraProblemFilter} for the whole application.
 *
 * @example
 * ```ts
 * @Module({ imports: [TesseraModule.forRoot({ verifier })], controllers: [MeController] })
 * class AppModule {}
 * ```
 */
export class TesseraModule {
  static forRoot(options: TesseraNestOptions): DynamicModule {
    if (!options?.verifier || typeof options.verifier.verifyMaybeSync !== 'function') throw new TypeError('"verifier" option is required')
    return {
      module: TesseraModule,
      global: true,
      providers: [
        { provide: TESSERA_OPTIONS, useValue: options },
        { provide: TESSERA_VERIFIER, useValue: options.verifier },
        { provide: APP_GUARD, useClass: TesseraGuard },
        { provide: APP_FILTER, useClass: TesseraProblemFilter },
      ],
      exports: [TESSERA_VERIFIER],
    }
  }
}

Inject(TESSERA_OPTIONS)(TesseraGuard, undefined, 0)
Inject(Reflector)(TesseraGuard, undefined, 1)
Injectable()(TesseraGuard)
Inject(HttpAdapterHost)(TesseraProblemFilter, undefined, 0)
Catch(TesseraAuthRefused)(TesseraProblemFilter)
Injectable()(TesseraProblemFilter)
