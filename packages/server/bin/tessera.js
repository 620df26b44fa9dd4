#!/usr/bin/env node
// The `tessera` command. An installed package runs its build (dist/); a
// checkout runs the TypeScript sources through tsx, with the `tessera-source`
// condition that makes @tessera/* load from src/ too. That is what lets
// `npx tessera ...` work right after `npm ci`.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const built = new URL('../dist/cli/main.js', import.meta.url)
// A checkout is where the package is built from: tsconfig.build.json is there and never ships (not in `files`).
// It runs its sources even when it has a build, since `npm run build` and `npm run bench` leave a dist/ that
// goes stale at the next edit (`node packages/server/dist/cli/main.js` runs the build on purpose).
const checkout = existsSync(fileURLToPath(new URL('../tsconfig.build.json', import.meta.url)))
// With the `tessera-source` condition active (NODE_OPTIONS in `npm test`), @tessera/* resolve to .ts files that
// the build cannot load without tsx.
const sourceCondition = import.meta.resolve('@tessera/core').endsWith('.ts')
if (!checkout && !sourceCondition && existsSync(fileURLToPath(built))) {
  await import(built.href)
} else {
  const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))
  const child = spawn(process.execPath, ['--conditions=tessera-source', '--import', 'tsx', source, ...process.argv.slice(2)], { stdio: 'inherit' })
  // The child handles Ctrl-C and SIGTERM itself (serve drains); this process only waits for it.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal)
    else process.exit(code ?? 1)
  })
}
