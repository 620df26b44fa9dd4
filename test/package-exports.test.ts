// Every entry point of every package (its package.json "exports") exports exactly the names
// listed in test/package-exports.json, values and types (`type Name`) alike. A new export
// is then a deliberate change seen in review, not something a re-export let through; so is a
// removed one (a breaking change for whoever used it). After a deliberate change, rewrite the
// list with: TESSERA_UPDATE_EXPORTS=1 node scripts/run-tests.mjs test/package-exports.test.ts
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import ts from 'typescript'

const ROOT = join(import.meta.dirname, '..')
const LIST = join(ROOT, 'test', 'package-exports.json')

type ExportMap = Record<string, Record<string, string[]>>

interface EntryPoint {
  name: string
  subpath: string
  file: string
}

function entryPoints(): EntryPoint[] {
  const entries: EntryPoint[] = []
  for (const dir of readdirSync(join(ROOT, 'packages')).sort()) {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as { name: string; exports: Record<string, string | Record<string, string>> }
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      // Entry points are the subpaths with a source (./package.json is not one).
      if (typeof target === 'object' && target['tessera-source']) entries.push({ name: manifest.name, subpath, file: join(ROOT, 'packages', dir, target['tessera-source']) })
    }
  }
  return entries
}

function isTypeOnly(symbol: ts.Symbol, checker: ts.TypeChecker): boolean {
  if (symbol.declarations?.some((d) => ts.isTypeOnlyImportOrExportDeclaration(d))) return true
  const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
  return (target.flags & ts.SymbolFlags.Value) === 0
}

/** The names each entry point exports, as the type checker sees them (re-exports and `export type *` resolved). */
function actualExports(entries: EntryPoint[]): ExportMap {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')) })
  assert.ok(config)
  const program = ts.createProgram(
    entries.map((e) => e.file),
    { ...config.options, noEmit: true },
  )
  const checker = program.getTypeChecker()
  const map: ExportMap = {}
  for (const entry of entries) {
    const source = program.getSourceFile(entry.file)
    assert.ok(source, entry.file)
    const moduleSymbol = checker.getSymbolAtLocation(source)
    assert.ok(moduleSymbol, `${entry.file} is not a module`)
    const names = checker.getExportsOfModule(moduleSymbol).map((s) => (isTypeOnly(s, checker) ? `type ${s.name}` : s.name))
    ;(map[entry.name] ??= {})[entry.subpath] = names.sort((a, b) => a.replace(/^type /, '').localeCompare(b.replace(/^type /, '')) || a.localeCompare(b))
  }
  return map
}

void test('each entry point exports exactly the names in test/package-exports.json', () => {
  const actual = actualExports(entryPoints())
  if (process.env.TESSERA_UPDATE_EXPORTS === '1') writeFileSync(LIST, `${JSON.stringify(actual, null, 2)}\n`)
  const listed = JSON.parse(readFileSync(LIST, 'utf8')) as ExportMap
  const differences: string[] = []
  for (const name of new Set([...Object.keys(actual), ...Object.keys(listed)])) {
    for (const subpath of new Set([...Object.keys(actual[name] ?? {}), ...Object.keys(listed[name] ?? {})])) {
      const is = new Set(actual[name]?.[subpath])
      const was = new Set(listed[name]?.[subpath])
      const where = `${name}${subpath === '.' ? '' : subpath.slice(1)}`
      if (!actual[name]?.[subpath]) {
        differences.push(`${where}: listed, but package.json has no such entry point`)
      } else if (!listed[name]?.[subpath]) {
        differences.push(`${where}: a new entry point, not listed`)
      } else {
        for (const n of is) if (!was.has(n)) differences.push(`${where}: exports ${n}, not listed`)
        for (const n of was) if (!is.has(n)) differences.push(`${where}: listed ${n}, no longer exported`)
      }
    }
  }
  assert.deepEqual(differences, [], 'if the change is deliberate, update the list (see the top of this file)')
})
