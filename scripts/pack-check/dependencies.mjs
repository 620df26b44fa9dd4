// Does a package declare exactly what its published code imports? Every bare specifier in its
// shipped JavaScript (dist/, bin/) and declaration files must be a dependency or a peer (it
// otherwise works only because the workspace hoists it), and every dependency or peer must be
// imported somewhere (otherwise every install pays for it). Used by pack-check.mjs; after
// `npm run build` it also runs alone: `node scripts/pack-check/dependencies.mjs [package dir...]`.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { isBuiltin } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageOf(specifier) {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
}

/** The package that carries the types of `name` (`@types/express`, `@types/scope__name`). */
function typesPackageOf(name) {
  return `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`
}

/** Bare package names a file imports (static, dynamic, `import("x").T` in declarations, require); comments do not count. */
export function importedPackages(text) {
  const { importedFiles } = ts.preProcessFile(text, true, true)
  return importedFiles.map((f) => f.fileName).filter((s) => !s.startsWith('.') && !s.startsWith('/') && !isBuiltin(s)).map(packageOf)
}

/** Files of a pack report that run or type-check in an install: JavaScript and declarations, not the shipped sources. */
export function publishedCode(files) {
  return files.filter((f) => /^(dist|bin)\//.test(f) && /\.(m|c)?js$|\.d\.(m|c)?ts$/.test(f))
}

/**
 * What is wrong with a package's declared dependencies, given the files it publishes:
 * imports nobody declared and declarations nobody imports (an `@types/x` counts as used when `x` is imported).
 */
export function dependencyProblems(dir, files) {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const declared = new Set(Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies }))
  const imported = new Map()
  for (const file of publishedCode(files)) {
    for (const name of importedPackages(readFileSync(join(dir, file), 'utf8'))) {
      if (name !== manifest.name && !imported.has(name)) imported.set(name, file)
    }
  }
  const problems = []
  for (const [name, file] of imported) {
    if (!declared.has(name) && !declared.has(typesPackageOf(name))) problems.push(`${manifest.name}: ${file} imports ${name}, which package.json does not declare`)
  }
  const used = new Set([...imported.keys()].flatMap((name) => [name, typesPackageOf(name)]))
  for (const name of declared) {
    if (!used.has(name)) problems.push(`${manifest.name}: declares ${name}, which no published file imports`)
  }
  return problems
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(fileURLToPath(import.meta.url), '..', '..', '..')
  const dirs = process.argv.slice(2).length ? process.argv.slice(2) : ['core', 'redis', 'verifier', 'gateway', 'server'].map((n) => join(root, 'packages', n))
  const problems = []
  for (const dir of dirs) {
    const [report] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8' }))
    problems.push(...dependencyProblems(dir, report.files.map((f) => f.path)))
  }
  for (const problem of problems) console.error(problem)
  process.exit(problems.length ? 1 : 0)
}
