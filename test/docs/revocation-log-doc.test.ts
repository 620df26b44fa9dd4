// docs/revocation-log.md is a protocol for followers in other languages: its
// field tables, key name, version and timings are checked here against what
// the Redis store really writes (raw XRANGE, not our reader) and the defaults
// our follower runs with.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createClient } from 'redis'
import { createTessera, DEFAULT_AUTH_OPTIONS, REVOCATION_LOG_VERSION, type Tessera } from '@tessera/core'
import { fieldsToEntry, fieldsToHeartbeat } from '@tessera/core/internal'
import { DEFAULT_VERIFIER_OPTIONS } from '@tessera/verifier'
import { redisStoreForTest, SHARED_REDIS_URL } from '../support/redis.js'

const DOC = readFileSync(fileURLToPath(new URL('../../docs/revocation-log.md', import.meta.url)), 'utf8')

interface DocumentedKind {
  fields: Set<string>
  required: Set<string>
}

/** Every "### ... (`k` = `X`)" section's table: field name -> required. */
function documentedKinds(): Map<string, DocumentedKind> {
  const kinds = new Map<string, DocumentedKind>()
  for (const section of DOC.split(/^### /m).slice(1)) {
    const kind = /^[^\n]*\(`k` = `([a-z])`\)/.exec(section)?.[1]
    if (!kind) continue
    const documented: DocumentedKind = { fields: new Set(), required: new Set() }
    for (const [, field, required] of section.matchAll(/^\| `([a-z])` \| (yes|no) \|/gm)) {
      documented.fields.add(field!)
      if (required === 'yes') documented.required.add(field!)
    }
    kinds.set(kind, documented)
  }
  return kinds
}

describe('docs/revocation-log.md matches what the store writes', () => {
  let made: Awaited<ReturnType<typeof redisStoreForTest>>
  let auth: Tessera
  let raw: { id: string; fields: Record<string, string> }[]

  before(async () => {
    made = await redisStoreForTest('log-doc')
    auth = await createTessera({ store: made.store, tokenKey: 'log-doc-test-token-key-of-32-bytes!!', issuer: 'https://auth.doc.test', audience: 'api', maxSessions: 2 })
    // One of every revocation the engine makes, written by the real scripts.
    const a = await auth.createSession({ userId: 'doc-a' })
    await auth.createSession({ userId: 'doc-a' })
    await auth.revokeSession(a.sessionId, { reason: 'logout' })
    const keep = await auth.createSession({ userId: 'doc-b' })
    await auth.createSession({ userId: 'doc-b' })
    await auth.revokeAllSessions('doc-b', { exceptSessionId: keep.sessionId })
    await auth.createSession({ userId: 'doc-c' })
    await auth.revokeAllSessions('doc-c')
    await auth.createSession({ userId: 'doc-d' })
    await auth.banUser('doc-d', { reason: 'doc' })
    const denied = await auth.createSession({ userId: 'doc-e' })
    await auth.denyAccessToken(denied.accessToken)
    for (let i = 0; i < 3; i++) await auth.createSession({ userId: 'doc-f' }) // the third evicts the oldest
    await auth.heartbeat()

    const client = createClient({ url: SHARED_REDIS_URL })
    await client.connect()
    try {
      const entries = await client.xRange(made.store.revocationLogKey, '-', '+')
      raw = entries.map((e) => ({ id: e.id, fields: { ...e.message } }))
    } finally {
      await client.close()
    }
  })
  after(async () => {
    await auth?.close()
    await made?.cleanup()
  })

  test('the key is <keyPrefix>revocations', () => {
    assert.match(DOC, /\| Key \| `<keyPrefix>revocations`/)
    assert.equal(made.store.revocationLogKey, `${made.prefix}revocations`)
  })

  test('every kind written is documented, with exactly the fields written; required fields are in every entry', () => {
    const kinds = documentedKinds()
    assert.deepEqual([...kinds.keys()].sort(), ['h', 's', 't', 'u'])
    const written = new Map<string, Set<string>>()
    for (const { id, fields } of raw) {
      const documented = kinds.get(fields.k!)
      assert.ok(documented, `entry ${id} has an undocumented kind ${fields.k}`)
      for (const name of Object.keys(fields)) assert.ok(documented.fields.has(name), `kind ${fields.k}: field "${name}" is not documented`)
      for (const name of documented.required) assert.ok(name in fields, `kind ${fields.k}: documented as required, "${name}" is missing from ${id}`)
      const seen = written.get(fields.k!) ?? new Set<string>()
      for (const name of Object.keys(fields)) seen.add(name)
      written.set(fields.k!, seen)
    }
    for (const [kind, documented] of kinds) {
      assert.deepEqual([...(written.get(kind) ?? [])].sort(), [...documented.fields].sort(), `kind ${kind}: documented fields that are never written`)
    }
  })

  test('reasons, positions and the current version are as documented', () => {
    const reasons = new Set(raw.map((e) => e.fields.r).filter(Boolean))
    for (const reason of reasons) assert.match(DOC, new RegExp(`\`${reason}\``), `reason ${reason} is not documented`)
    for (const { id } of raw) assert.match(id, /^\d+-\d+$/)
    assert.match(DOC, new RegExp(`\\| ${REVOCATION_LOG_VERSION} \\(current\\) \\|`))
    const heartbeat = raw.find((e) => e.fields.k === 'h')!
    assert.equal(fieldsToHeartbeat(heartbeat.id, heartbeat.fields)?.version, REVOCATION_LOG_VERSION)
    // Our reader understands every entry it wrote: the documented format is the one it reads.
    for (const { id, fields } of raw) if (fields.k !== 'h') assert.ok(fieldsToEntry(id, fields), `${id} ${JSON.stringify(fields)}`)
  })

  test('the timings the page gives are the defaults', () => {
    assert.equal(DEFAULT_AUTH_OPTIONS.heartbeatIntervalMs, 5000)
    assert.match(DOC, /then every 5 seconds/)
    assert.equal(DEFAULT_VERIFIER_OPTIONS.log.issuerSilenceMs, 20_000)
    assert.match(DOC, /last \*\*20 s\*\*/)
    assert.equal(DEFAULT_VERIFIER_OPTIONS.log.maxStalenessMs, 2500)
    assert.match(DOC, /ours: 2\.5 s/)
    assert.equal(DEFAULT_VERIFIER_OPTIONS.log.gapCheckIntervalMs, 1000)
    assert.match(DOC, /at least once a\s+second/)
    assert.equal(DEFAULT_VERIFIER_OPTIONS.revocationTtlMs, 15 * 60_000)
    assert.match(DOC, /ours: 15 minutes/)
  })
})
