// Type tests, checked by the repository's typecheck (`npx tsc -p tsconfig.json`, in CI):
// on a protected route the claims are typed non-null; the `@ts-expect-error` lines fail
// the typecheck if the types ever allow what they must not. The runtime part runs too.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Hono } from 'hono'
import type { AccessTokenClaims } from '@tessera/core'
import { authOf as expressAuthOf } from '../express.js'
import { authOf } from '../fastify.js'
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
