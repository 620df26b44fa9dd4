// TESSERA_TRACING=off: read once at load, so each case runs in a fresh process with an SDK registered.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { errorType } from '../telemetry.js'
import { AccessTokenRevoked } from '../errors.js'

const run = promisify(execFile)

// Registers the SDK with an in-memory exporter, signs in and verifies on the memory store, prints the span names.
const CHILD = `
import { trace } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { createTessera } from '@tessera/core'
const exporter = new InMemorySpanExporter()
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
const auth = await createTessera({ heartbeatIntervalMs: 0 })
const login = await auth.createSession({ userId: 'u1' })
await auth.verifyAccessToken(login.accessToken)
await auth.close()
console.log(JSON.stringify(exporter.getFinishedSpans().map((s) => s.name)))
`

async function spanNames(env: NodeJS.ProcessEnv): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--conditions=tessera-source', '--import', 'tsx', '--input-type=module', '-e', CHILD], { env: { ...process.env, ...env }, timeout: 60_000 })
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as string[]
}

test('with an SDK registered the engine records its spans; TESSERA_TRACING=off records none', async () => {
  assert.deepEqual((await spanNames({ TESSERA_TRACING: '' })).sort(), ['tessera.session.create', 'tessera.verify'])
  assert.deepEqual(await spanNames({ TESSERA_TRACING: 'off' }), [])
})

test('error.type is the stable code of our errors, a system code, or the class name; never the message', () => {
  assert.equal(errorType(new AccessTokenRevoked()), 'ERR_ACCESS_TOKEN_REVOKED')
  assert.equal(errorType(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' })), 'ECONNREFUSED')
  assert.equal(errorType(new TypeError('"mode" must be "signature" or "strict"')), 'TypeError')
  assert.equal(errorType(Object.assign(new Error('x'), { code: 'user@example.com' })), 'Error')
  assert.equal(errorType('a string'), '_OTHER')
})
