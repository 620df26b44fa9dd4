// The Hono and NestJS apps of the shared adapter table (adapters.test.ts): the same three routes
// (/me protected, /open open, /maybe optional) as the Fastify and Express apps there; NestJS also
// has /miswired, an open route that asks for RequiredClaims (a wiring mistake).
import 'reflect-metadata'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import { Controller, Get, Module } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { Hono } from 'hono'
import type { AccessTokenClaims } from '@tessera/core'
import type { Verifier } from '../../verifier.js'
import { tesseraHono, type TesseraHonoEnv } from '../hono.js'
import { Claims, OptionalAuth, Public, RequiredClaims, TesseraModule } from '../nest.js'

export interface RunningApp {
  url: string
  close(): Promise<void>
}

export async function buildHono(verifier: Verifier): Promise<RunningApp> {
  const app = new Hono<TesseraHonoEnv>()
  app.get('/me', tesseraHono({ verifier }), (c) => c.json({ userId: c.var.auth.userId }))
  app.get('/open', (c) => c.json({ open: true, auth: c.get('auth') ?? null }))
  app.get('/maybe', tesseraHono({ verifier, optional: true }), (c) => c.json({ userId: c.var.auth?.userId ?? null }))
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server))
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

class MeController {
  me(claims: AccessTokenClaims) {
    return { userId: claims.userId }
  }
  open(claims: AccessTokenClaims | null) {
    return { open: true, auth: claims }
  }
  maybe(claims: AccessTokenClaims | null) {
    return { userId: claims?.userId ?? null }
  }
  miswired(claims: AccessTokenClaims) {
    return { userId: claims.userId }
  }
}

// Decorators applied as calls, as an application compiled with experimentalDecorators would apply them
// (this repo compiles with TC39 decorators; see nest.ts).
function route(name: keyof MeController, decorators: MethodDecorator[], claims = Claims): void {
  Reflect.decorate(decorators, MeController.prototype, name, Object.getOwnPropertyDescriptor(MeController.prototype, name))
  claims()(MeController.prototype, name, 0)
}
route('me', [Get('me')], RequiredClaims)
route('open', [Get('open'), Public()])
route('maybe', [Get('maybe'), OptionalAuth()])
route('miswired', [Get('miswired'), Public()], RequiredClaims)
Reflect.decorate([Controller()], MeController)

export async function buildNest(verifier: Verifier): Promise<RunningApp> {
  class AppModule {}
  Reflect.decorate([Module({ imports: [TesseraModule.forRoot({ verifier })], controllers: [MeController] })], AppModule)
  const app = await NestFactory.create(AppModule, { logger: false })
  await app.listen(0, '127.0.0.1')
  const server = app.getHttpServer() as Server
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections()
      await app.close()
    },
  }
}
