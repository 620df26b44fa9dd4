#!/usr/bin/env node
// The `tessera` binary. Loading the commands takes seconds from a checkout on a
// busy machine (every module compiled by tsx), so `serve` first says that it is
// starting; the steps that follow print their own progress (server/main.ts).
if (process.argv[2] === 'serve' && process.env.LOG_LEVEL !== 'silent') process.stderr.write(`tessera: [${process.uptime().toFixed(1)} s] starting ...\n`)
await import('./program.js')
