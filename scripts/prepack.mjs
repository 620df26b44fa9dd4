#!/usr/bin/env node
// Runs as a package's `prepack` (from its folder): a published package carries the
// pages its README links to (docs/, SECURITY.md, LICENSE live once, at the repository
// root) and must already be built (`npm run build` at the root builds every package
// in dependency order).
import { cpSync, existsSync } from 'node:fs'
import { join } from 'node:path'

const root = join(process.cwd(), '..', '..')
if (!existsSync('dist/index.js')) {
  console.error(`${process.cwd()}: dist/ is missing; run \`npm run build\` at the repository root first`)
  process.exit(1)
}
cpSync(join(root, 'LICENSE'), 'LICENSE')
cpSync(join(root, 'SECURITY.md'), 'SECURITY.md')
cpSync(join(root, 'docs'), 'docs', { recursive: true, filter: (path) => !path.endsWith('.png') })
