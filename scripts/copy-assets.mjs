#!/usr/bin/env node
// tsc copies no non-TypeScript files: put the Lua scripts next to the compiled store.
import { cpSync } from 'node:fs'
cpSync('src/redis-store/lua', 'dist/redis-store/lua', { recursive: true })
