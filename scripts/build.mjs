#!/usr/bin/env node
// Builds every workspace package into its dist/, each after the @tessera packages it
// depends on (a package's build reads its dependencies' published types from their dist/).
// Each dist/ is emptied first: tsc only adds and overwrites, so a module whose source was
// renamed or deleted would otherwise stay in dist/ and ship.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const manifests = new Map()
for (const dir of readdirSync('packages')) {
  const manifest = JSON.parse(readFileSync(join('packages', dir, 'package.json'), 'utf8'))
  manifests.set(manifest.name, { dir: join('packages', dir), manifest })
}
const built = new Set()
function build(name, path = []) {
  if (built.has(name)) return
  if (path.includes(name)) throw new Error(`dependency cycle: ${[...path, name].join(' -> ')}`)
  const { dir, manifest } = manifests.get(name)
  for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })) if (manifests.has(dep)) build(dep, [...path, name])
  console.log(`== build ${name}`)
  rmSync(join(dir, 'dist'), { recursive: true, force: true })
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: dir, stdio: 'inherit' })
  built.add(name)
}
for (const name of [...manifests.keys()].sort()) build(name)
