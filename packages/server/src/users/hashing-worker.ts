// A child process of the hashing pool (hashing-pool.ts). It lowers its own
// CPU priority first, so that on a busy core the scheduler runs the server's
// event loop before any password hash, then answers one request at a time.
import { readdirSync } from 'node:fs'
import { setPriority } from 'node:os'
import argon2 from 'argon2'
import type { HashRequest, HashResponse } from './hashing-pool.js'

lowerPriority(Number(process.env.TESSERA_HASHING_NICE ?? '10'))

/**
 * On Linux a nice value belongs to one thread, and setPriority(0) reaches only
 * the main one; argon2 runs on libuv's pool threads, which Node started before
 * this module ran (the ESM loader reads files through the pool). So every
 * thread of the process is lowered by its id. Elsewhere (macOS, BSD) the value
 * is the process's.
 */
function lowerPriority(nice: number): void {
  let threadIds: number[] = []
  try {
    threadIds = readdirSync('/proc/self/task').map(Number)
  } catch {
    // No /proc: the platform keeps one value per process.
  }
  for (const id of threadIds.length > 0 ? threadIds : [0]) {
    try {
      setPriority(id, nice)
    } catch {
      // Lowering one's own priority is always allowed on Linux; a thread that ended meanwhile is gone anyway.
    }
  }
}

process.on('message', (raw: unknown) => {
  const request = raw as HashRequest
  void answer(request).then((response) => process.send?.(response))
})

async function answer(request: HashRequest): Promise<HashResponse> {
  try {
    if (request.op === 'hash') return { id: request.id, ok: true, value: await argon2.hash(request.password, { ...request.options, raw: false }) }
    return { id: request.id, ok: true, value: await argon2.verify(request.hash, request.password) }
  } catch (err) {
    // The message of an argon2 error names the problem (a malformed hash), never the password.
    return { id: request.id, ok: false, error: (err as Error).message }
  }
}

// The parent closing the IPC channel (exit, crash, pool.close()) ends this child.
process.on('disconnect', () => process.exit(0))
