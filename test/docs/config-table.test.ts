// The README's configuration table is kept by hand: this fails when the server (or the CLI, which reads the same
// configuration) reads an environment variable the table does not name, or the table names one nobody reads.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { readCliConfig } from '../../packages/server/src/cli/config.js'
import { loadConfig } from '../../packages/server/src/server/config.js'

const README = new URL('../../README.md', import.meta.url)
const CONFIG_SOURCE = new URL('../../packages/server/src/server/config.ts', import.meta.url)

/** The variables a configuration reader asks the environment for. */
function reads(read: (env: NodeJS.ProcessEnv) => unknown, env: Record<string, string>): Set<string> {
  const names = new Set<string>()
  read(new Proxy(env, { get: (target, name) => (typeof name === 'string' && names.add(name), Reflect.get(target, name) as unknown) }))
  return names
}

// Some variables are read only when another one is set: the second environment takes those branches
// (Sentinel with its own credentials and TLS, replication waits, the forward-auth handler's header settings).
const ENVIRONMENTS: Record<string, string>[] = [
  {},
  {
    REDIS_SENTINELS: 'sentinel.example:26379',
    REDIS_SENTINEL_MASTER: 'main',
    REDIS_SENTINEL_USERNAME: 'user',
    REDIS_SENTINEL_PASSWORD: 'password',
    REDIS_SENTINEL_TLS: 'true',
    REDIS_TLS: 'true',
    TESSERA_REDIS_WAIT_REPLICAS: '1',
    TESSERA_FORWARD_AUTH: 'true',
  },
]

/** The names in the first column of the README's configuration table; `PREFIX_*` stands for a family. */
function documented(): string[] {
  const readme = readFileSync(README, 'utf8')
  const start = readme.indexOf('| Variable | Default | Meaning |', readme.indexOf('Every setting is an environment variable'))
  assert.ok(start > 0, 'the README has its configuration table')
  const rows = readme.slice(start).split('\n').slice(2)
  const table = rows.slice(0, rows.findIndex((line) => !line.startsWith('|')))
  return table.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*\*?)`/g)].map((m) => m[1]!))
}

void test('the README configuration table names every environment variable the server and the CLI read, and no other', () => {
  const names = new Set<string>()
  for (const env of ENVIRONMENTS) {
    for (const name of reads((e) => loadConfig(e, '/'), env)) names.add(name)
    for (const name of reads((e) => readCliConfig(e), env)) names.add(name)
  }
  // And every name config.ts passes to its readers, should a branch above not reach it.
  for (const m of readFileSync(CONFIG_SOURCE, 'utf8').matchAll(/\(env, '([A-Z][A-Z0-9_]*)'/g)) names.add(m[1]!)
  assert.ok(names.has('PORT') && names.has('TESSERA_FORWARD_AUTH') && names.has('TESSERA_GATEWAY_REALM'), 'the readers were followed')

  const table = documented()
  const covers = (entry: string, name: string) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : entry === name)
  const missing = [...names].filter((name) => !table.some((entry) => covers(entry, name)))
  assert.deepEqual(missing, [], 'read by the configuration but missing from the README table')
  const unread = table.filter((entry) => ![...names].some((name) => covers(entry, name)))
  assert.deepEqual(unread, [], 'in the README table but read by nothing')
})
