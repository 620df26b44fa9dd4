import assert from 'node:assert/strict'
import type { OutageRig } from './outage-rig.js'
import { ofFace, summarise, tooSlow, workingAgainAt, type Sample } from './probes.js'

/**
 * Kills and restarts the rig's Redis `cycles` times, `downMs` down and
 * `upMs` up each time. Returns `performance.now()` when Redis last came back.
 *
 * @example
 * ```ts
 * const upAt = await flap(rig, { cycles: 30, downMs: 1000, upMs: 1000 })
 * ```
 */
export async function flap(rig: Pick<OutageRig, 'kill' | 'restart'>, options: { cycles: number; downMs: number; upMs: number }): Promise<number> {
  let upAt = performance.now()
  for (let i = 0; i < options.cycles; i++) {
    await rig.kill()
    await new Promise((resolve) => setTimeout(resolve, options.downMs))
    await rig.restart()
    upAt = performance.now()
    if (i < options.cycles - 1) await new Promise((resolve) => setTimeout(resolve, options.upMs))
  }
  return upAt
}

/**
 * The flapping verdict: revoked faces never 200, no answer slower than
 * `maxAnswerMs`, no status outside 200/401/503, and every live face answering
 * 200 within `maxRecoveryMs` of the last restart.
 */
export function assertFlappingSurvived(samples: Sample[], faces: string[], lastUpAt: number, limits: { maxAnswerMs: number; maxRecoveryMs: number }): void {
  const problems: string[] = []
  for (const face of faces) {
    const mine = ofFace(samples, face)
    if (face.endsWith('-revoked') && mine.some((s) => s.status === 200)) problems.push(`${face}: a revoked token was ACCEPTED`)
    const odd = mine.filter((s) => ![200, 401, 503].includes(s.status))
    if (odd.length) problems.push(`${face}: statuses ${[...new Set(odd.map((s) => s.status))].join(',')}`)
    // A live face may be refused (401) only if it is the refresh face losing its token; anything else must be 200 or 503.
    if (!face.endsWith('-revoked') && mine.some((s) => s.status === 401)) problems.push(`${face}: a live token was refused with 401`)
    const slow = mine.filter((s) => tooSlow(s, limits.maxAnswerMs))
    if (slow.length) problems.push(`${face}: ${slow.length} answers over ${limits.maxAnswerMs} ms (slowest ${Math.round(Math.max(...slow.map((s) => s.endMs - s.startMs)))} ms)`)
    if (!face.endsWith('-revoked')) {
      const recovered = mine.find((s) => s.startMs >= lastUpAt && s.status === 200)
      if (!recovered || workingAgainAt(recovered) > lastUpAt + limits.maxRecoveryMs) problems.push(`${face}: not recovered within ${limits.maxRecoveryMs} ms of the last restart`)
    }
  }
  assert.deepEqual(problems, [], JSON.stringify(summarise(samples)))
}
