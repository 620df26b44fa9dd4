// The long variant of the flapping suite: Redis down and up every second for
// 30 s under load (`npm run test:long`; redis-outage.test.ts runs 6 s of it in CI).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { assertFlappingSurvived, flap } from '../flapping.js'
import { startOutageRig } from '../outage-rig.js'
import { startProbes, summarise } from '../probes.js'

void test('Redis down and up every second for 30 s: never a revoked token, never a hang, recovered within 2 s at the end', async (t) => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => void unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.after(() => process.off('unhandledRejection', onUnhandled))
  const rig = await startOutageRig()
  t.after(() => rig.close())
  const run = startProbes(rig.faces)
  await waitForFirstAnswers(run.samples.length)
  const upAt = await flap(rig, { cycles: 15, downMs: 1000, upMs: 1000 })
  await new Promise((resolve) => setTimeout(resolve, 2500))
  const samples = await run.stop()
  console.log(JSON.stringify(summarise(samples)))
  assertFlappingSurvived(samples, Object.keys(rig.faces), upAt, { maxAnswerMs: 1000, maxRecoveryMs: 2000 })
  assert.deepEqual(unhandled, [])

  async function waitForFirstAnswers(_: number): Promise<void> {
    while (Object.keys(summarise(run.samples)).length < Object.keys(rig.faces).length) await new Promise((resolve) => setTimeout(resolve, 20))
  }
})
