#!/usr/bin/env node
// The `tessera` command. An installed package runs its build (dist/); a
// checkout has no build, so it runs the TypeScript sources through tsx, with
// the `tessera-source` condition that makes @tessera/* load from src/ too.
// That is what lets `npx tessera ...` work right after `npm ci`.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const built = new URL('../dist/cli/main.js', import.meta.url)
// With the `tessera-source` condition active (NODE_OPTIONS in `npm test`), @tessera/* resolve to .ts files that
// the build cannot load without tsx: a checkout that also has a build (after `npm run bench`) runs the sources then.
const sourceCondition = import.meta.resolve('@tessera/core').endsWith('.ts')
if (existsSync(fileURLToPath(built)) && !sourceCondition) {
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
