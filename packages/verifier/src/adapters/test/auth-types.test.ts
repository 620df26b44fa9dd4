// Type tests, checked by the repository's typecheck (`npx tsc -p tsconfig.json`, in CI):
// on a protected route the claims are typed non-null (Hono's context variable; authOf() for
// Fastify and Express, whose request types cannot know which routes are protected); the
// `@ts-expect-error` lines fail the typecheck if the types ever allow what they must not.
// The runtime part runs too. NestJS cannot check a parameter's type against its decorator:
// @RequiredClaims() is proven at run time (adapters.test.ts, /me and /miswired).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import type { AccessTokenClaims } from '@tessera/core'
import { authOf as expressAuthOf, tesseraExpress } from '../express.js'
import { authOf, tesseraFastify } from '../fastify.js'
import { tesseraHono, type TesseraHonoEnv } from '../hono.js'
import type { Verifier } from '../../verifier.js'

function expectType<T>(_value: T): void {}

test('protected routes see non-null claims in the adapter types', () => {
  const verifier = { verifyMaybeSync: () => null } as unknown as Verifier
  const app = new Hono<TesseraHonoEnv>()
  app.get('/me', tesseraHono({ verifier }), (c) => {
    expectType<AccessTokenClaims>(c.var.auth)
    return c.text(c.var.auth.userId)
  })
  app.get('/maybe', tesseraHono({ verifier, optional: true }), (c) => {
    // @ts-expect-error optional routes may have no claims
    expectType<AccessTokenClaims>(c.var.auth)
    return c.text(c.var.auth?.userId ?? 'anonymous')
  })
  const claims = { userId: '42' } as AccessTokenClaims
  expectType<AccessTokenClaims>(authOf({ auth: claims }))
  assert.equal(expressAuthOf({ auth: claims }).userId, '42')
  assert.throws(() => authOf({ auth: null }), TypeError)
  assert.throws(() => authOf({}), TypeError)
})

test('Fastify and Express: request.auth is nullable, authOf(request) is the non-null path', () => {
  const verifier = { verifyMaybeSync: () => null } as unknown as Verifier
  const fastify = Fastify()
  void fastify.register(tesseraFastify, { verifier })
  fastify.get('/me', async (request) => {
    // @ts-expect-error request.auth is null on open routes: the type cannot know this route is protected
    expectType<AccessTokenClaims>(request.auth)
    expectType<AccessTokenClaims>(authOf(request))
    return { userId: authOf(request).userId }
  })
  const app = express()
  app.get('/me', tesseraExpress({ verifier }), (req, res) => {
    // @ts-expect-error req.auth is absent before the middleware and null on optional routes
    expectType<AccessTokenClaims>(req.auth)
    expectType<AccessTokenClaims>(expressAuthOf(req))
    res.json({ userId: expressAuthOf(req).userId })
  })
})
