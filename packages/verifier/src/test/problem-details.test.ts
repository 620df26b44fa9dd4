import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  AccessTokenExpired,
  DpopNonceRequired,
  DpopProofInvalid,
  InvalidInput,
  KeysUnavailable,
  RefreshTokenReused,
  SessionLimitReached,
  SessionNotFound,
  StoreUnavailable,
  UserBanned,
} from '@tessera/core'
import { problemFor } from '../http-problem.js'
import { missingTokenProblem, problemForAuthError, problemType } from '../problem-details.js'

describe('one AuthError to HTTP mapping', () => {
  test('a banned user, bad input and a session limit are not 401 invalid_token, wherever they are met', () => {
    for (const [err, status] of [
      [new UserBanned(null), 403],
      [new InvalidInput('device name is too long'), 400],
      [new SessionLimitReached(), 409],
    ] as const) {
      for (const problem of [problemFor(err), problemForAuthError(err, { endpoint: 'api' }), problemForAuthError(err, { endpoint: 'token' })]) {
        assert.equal(problem.status, status, err.code)
        assert.equal(problem.body.code, err.code)
        assert.equal(problem.body.type, problemType(err.code))
        assert.doesNotMatch(problem.headers['www-authenticate'] ?? '', /invalid_token/)
      }
    }
  })

  test("a logged-out session's refresh is 401 ERR_SESSION_REVOKED at a token endpoint, a named session that is gone 404 elsewhere", () => {
    const refresh = problemForAuthError(new SessionNotFound(), { endpoint: 'token' })
    assert.equal(refresh.status, 401)
    assert.equal(refresh.body.code, 'ERR_SESSION_REVOKED')
    assert.equal(refresh.body.type, 'urn:tessera:error:session-revoked')
    assert.match(refresh.headers['www-authenticate']!, /^Bearer/)
    const named = problemForAuthError(new SessionNotFound(), { endpoint: 'api' })
    assert.equal(named.status, 404)
    assert.equal(named.body.code, 'ERR_SESSION_NOT_FOUND')
  })

  test('token failures are 401 invalid_token with the challenge of their scheme; DPoP proof failures are 400 at a token endpoint', () => {
    const expired = problemFor(new AccessTokenExpired(), { realm: 'api' })
    assert.equal(expired.status, 401)
    assert.match(expired.headers['www-authenticate']!, /^Bearer realm="api", error="invalid_token", error_description="/)
    const reused = problemForAuthError(new RefreshTokenReused(), { endpoint: 'token' })
    assert.equal(reused.status, 401)
    assert.equal(reused.headers['www-authenticate'], 'Bearer')
    const nonce = new DpopNonceRequired('nonce-1')
    assert.equal(problemForAuthError(nonce, { endpoint: 'token' }).status, 400)
    assert.equal(problemForAuthError(nonce, { endpoint: 'token' }).headers['dpop-nonce'], 'nonce-1')
    const resource = problemForAuthError(new DpopProofInvalid('bad proof'), { endpoint: 'resource', scheme: 'DPoP', dpopAlgorithms: ['ES256'] })
    assert.equal(resource.status, 401)
    assert.match(resource.headers['www-authenticate']!, /^DPoP error="invalid_dpop_proof"/)
  })

  test('outages are 503 with Retry-After and keep their code; anything else fails closed as 503', () => {
    assert.equal(problemFor(new KeysUnavailable('jwks down')).body.code, 'ERR_KEYS_UNAVAILABLE')
    assert.equal(problemFor(new StoreUnavailable()).headers['retry-after'], '1')
    const odd = problemFor(new Error('boom'))
    assert.equal(odd.status, 503)
    assert.equal(odd.body.type, 'urn:tessera:error:store-unavailable')
    assert.doesNotMatch(odd.body.detail, /boom/)
  })

  test('the missing token answer is in the same dialect', () => {
    const missing = missingTokenProblem({ dpopAlgorithms: ['ES256'] })
    assert.deepEqual(missing.body, { type: 'urn:tessera:error:access-token-missing', title: 'Access token required', status: 401, detail: 'an access token is required', code: 'ERR_ACCESS_TOKEN_MISSING' })
    assert.equal(missing.headers['www-authenticate'], 'Bearer, DPoP algs="ES256"')
  })
})
