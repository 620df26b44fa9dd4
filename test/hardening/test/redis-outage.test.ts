// Redis killed under load (SIGKILL, appendfsync always), then flapping:
// no revoked token is ever accepted, every request is answered within 1 s,
// each face answers 503 within 1 s of the kill, and everything works again
// within 2 s of Redis answering.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { ofFace, startProbes, summarise, tooSlow, workingAgainAt, type Sample } from '../probes.js'
import { CACHED_MAX_STALENESS_MS, startOutageRig } from '../outage-rig.js'
import { assertFlappingSurvived, flap } from '../flapping.js'

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => void unhandled.push(reason)
process.on('unhandledRejection', onUnhandled)
after(() => {
  process.off('unhandledRejection', onUnhandled)
})

const MAX_ANSWER_MS = 1000
const MAX_RECOVERY_MS = 2000

function firstAfter(samples: Sample[], fromMs: number, status: number): Sample | undefined {
  return samples.find((s) => s.startMs >= fromMs && s.status === status)
}

void test('Redis killed under load: fail closed with 503 within 1 s, never accept a revoked token, recover within 2 s', async (t) => {
  const rig = await startOutageRig()
  t.after(() => rig.close())
  const run = startProbes(rig.faces)
  await waitForAll(run.samples, Object.keys(rig.faces))
  const killedAt = performance.now()
  await rig.kill()
  await waitForPerformance(killedAt + 2000)
  await rig.restart()
  const upAt = performance.now()
  await waitForPerformance(upAt + 3000)
  const samples = await run.stop()
  const summary = summarise(samples)
  const report = JSON.stringify(summary)

  const problems: string[] = []
  for (const face of Object.keys(rig.faces)) {
    const mine = ofFace(samples, face)
    const slow = mine.filter((s) => tooSlow(s, MAX_ANSWER_MS))
    if (slow.length) problems.push(`${face}: ${slow.length} answers over ${MAX_ANSWER_MS} ms`)
    if (mine.some((s) => s.status === 0 || s.status >= 500 && s.status !== 503)) problems.push(`${face}: crashed or 5xx other than 503`)
    if (face.endsWith('-revoked')) {
      if (mine.some((s) => s.status === 200)) problems.push(`${face}: a revoked token was ACCEPTED`)
      continue
    }
    const firstUnavailable = firstAfter(mine, killedAt, 503)
    // Cached mode answers from its set until it is stale; only then must it fall back and fail closed.
    const unavailableBy = killedAt + MAX_ANSWER_MS + (face === 'cached-verifier' ? CACHED_MAX_STALENESS_MS : 0)
    if (!firstUnavailable || firstUnavailable.endMs > unavailableBy) problems.push(`${face}: first 503 at ${firstUnavailable ? Math.round(firstUnavailable.endMs - killedAt) : 'never'} ms after the kill`)
    const servedWhileDown = mine.filter((s) => s.startMs > unavailableBy && s.endMs < upAt && s.status === 200)
    if (face !== 'cached-verifier' && servedWhileDown.length) problems.push(`${face}: ${servedWhileDown.length} answers 200 while Redis was down`)
    const recovered = firstAfter(mine, upAt, 200)
    if (!recovered || workingAgainAt(recovered) > upAt + MAX_RECOVERY_MS) problems.push(`${face}: recovered ${recovered ? Math.round(workingAgainAt(recovered) - upAt) : 'never'} ms after Redis returned`)
    else console.log(`${face}: first 503 ${Math.round(firstUnavailable!.endMs - killedAt)} ms after the kill, first 200 ${Math.round(workingAgainAt(recovered) - upAt)} ms after Redis returned`)
  }
  assert.deepEqual(problems, [], report)
  assert.deepEqual(unhandled, [])
})

void test('Redis flapping (down and up every second): never a revoked token, never a hang, recovered at the end', async (t) => {
  const rig = await startOutageRig()
  t.after(() => rig.close())
  const run = startProbes(rig.faces)
  await waitForAll(run.samples, Object.keys(rig.faces))
  const upAt = await flap(rig, { cycles: 3, downMs: 1000, upMs: 1000 })
  await waitForPerformance(upAt + MAX_RECOVERY_MS + 500)
  const samples = await run.stop()
  assertFlappingSurvived(samples, Object.keys(rig.faces), upAt, { maxAnswerMs: MAX_ANSWER_MS, maxRecoveryMs: MAX_RECOVERY_MS })
  assert.deepEqual(unhandled, [])
})

/** Resolves once every face has answered 200 at least once (or 401 for the revoked faces): the rig is warm. */
async function waitForAll(samples: Sample[], faces: string[]): Promise<void> {
  const deadline = performance.now() + 10_000
  for (;;) {
    const missing = faces.filter((face) => !samples.some((s) => s.face === face && s.status === (face.endsWith('-revoked') ? 401 : 200)))
    if (missing.length === 0) return
    if (performance.now() > deadline) throw new Error(`faces never healthy: ${missing.join(', ')} ${JSON.stringify(summarise(samples))}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Lets the probes run until `performance.now()` reaches `atMs` (the probes are the subject; this only spaces the faults). */
async function waitForPerformance(atMs: number): Promise<void> {
  const ms = atMs - performance.now()
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms))
}
