import type { StoredSession } from '@tessera/core'

/** Bit 31 of the stored generation marks a DPoP-bound session (see lua/includes/common.lua). */
const BOUND_BIT = 0x80000000

/**
 * Reads the packed session state written by the Lua scripts
 * (`'>I4I6I6I6c16c16'` then the device class; see lua/includes/common.lua).
 */
export function decodeSessionState(localId: string, state: Buffer, createdAtMs: number, metadata: Buffer): StoredSession {
  return {
    localId,
    generation: state.readUInt32BE(0) % BOUND_BIT,
    createdAtMs,
    lastSeenAtMs: state.readUIntBE(4, 6),
    idleExpiresAtMs: state.readUIntBE(10, 6),
    absoluteExpiresAtMs: state.readUIntBE(16, 6),
    deviceClass: state.subarray(54).toString('utf8'),
    metadata,
    dpopBound: state.readUInt32BE(0) >= BOUND_BIT,
  }
}
