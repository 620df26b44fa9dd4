// docs/server.md's error table is generated from the server's one error table
// (scripts/docs-errors.ts); this fails when someone changes either by hand.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { HTTP_ERRORS } from '../../packages/server/src/server/http-errors.js'
import { SERVER_DOC, withErrorTable } from '../../scripts/docs-errors.js'

void test('docs/server.md lists exactly the codes and statuses of http-errors.ts (run `npm run docs:errors` after changing them)', () => {
  const doc = readFileSync(SERVER_DOC, 'utf8')
  assert.equal(doc, withErrorTable(doc), 'the error table in docs/server.md differs from the code: run `npm run docs:errors`')
  // And the generated table really is there, one row per code.
  for (const [code, { status }] of Object.entries(HTTP_ERRORS)) assert.ok(doc.includes(`| ${status} | \`${code}\` |`), code)
})
