// Refusals of a presented credential are expected answers: under a flood of bad
// tokens every one was an Error with a captured stack trace (about 7 us each,
// captured twice). They carry none now; errors that point at the caller's code
// or at an outage keep their stack.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AccessTokenInvalid, AuthError, DpopProofInvalid, InvalidInput, RefreshTokenReused, SessionRevoked, StoreUnavailable } from '../index.js'

const frames = (err: Error) => (err.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at ')).length

test('a verdict on a presented credential carries its name and message but no stack frames', () => {
  for (const err of [new AccessTokenInvalid('access token is malformed'), new SessionRevoked(), new RefreshTokenReused(), new DpopProofInvalid('DPoP proof was already used')]) {
    assert.ok(err instanceof AuthError && err instanceof Error)
    assert.equal(frames(err), 0, err.stack)
    assert.equal(err.stack, `${err.name}: ${err.message}`)
    assert.equal(String(err), `${err.name}: ${err.message}`)
  }
})

test('bad input and an unavailable store keep a stack that starts at the caller, and the global limit is left as it was', () => {
  const limit = Error.stackTraceLimit
  function callerOfTessera() {
    return [new InvalidInput('userId must be a non-empty string'), new StoreUnavailable('session store is unavailable', { cause: new Error('ECONNREFUSED') })]
  }
  for (const err of callerOfTessera()) {
    assert.ok(frames(err) > 0, err.stack)
    assert.match(err.stack!.split('\n')[1]!, /callerOfTessera/)
    assert.match(err.stack!, new RegExp(`^${err.name}: `))
  }
  new AccessTokenInvalid()
  assert.equal(Error.stackTraceLimit, limit)
})
