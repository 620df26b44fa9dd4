// Redis alive but unable to serve: hung (DEBUG SLEEP) and full (maxmemory
// reached under noeviction). Requests fail closed within 1 s and never
// accept a revoked token; a full Redis still serves verification (reads)
// and refuses writes; both recover on their own.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createClient } from 'redis'
import { startOutageRig } from '../outage-rig.js'
import { ofFace, startProbes, summarise, tooSlow, workingAgainAt } from '../probes.js'

void test('a hung Redis (DEBUG SLEEP 2): every face answers within 1 s, 503 or cached, no revoked token, back after', async (t) => {
  const rig = await startOutageRig({ redisArgs: ['--enable-debug-command', 'yes'] })
  t.after(() => rig.close())
  const admin = createClient({ url: rig.redis.url })
  admin.on('error', () => {})
  await admin.connect()
  t.after(() => admin.destroy())
  const run = startProbes(rig.faces)
  while (Object.keys(summarise(run.samples)).length < Object.keys(rig.faces).length) await new Promise((resolve) => setTimeout(resolve, 20))
  const hungAt = performance.now()
  await admin.sendCommand(['DEBUG', 'SLEEP', '2'])
  const awakeAt = performance.now()
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const samples = await run.stop()
  const report = JSON.stringify(summarise(samples))
  console.log(`hung Redis: ${report}`)
  const problems: string[] = []
  for (const face of Object.keys(rig.faces)) {
    const mine = ofFace(samples, face)
    if (mine.some((s) => tooSlow(s, 1000))) problems.push(`${face}: an answer took over 1 s`)
    if (face.endsWith('-revoked') && mine.some((s) => s.status === 200)) problems.push(`${face}: a revoked token was ACCEPTED`)
    if (mine.some((s) => ![200, 401, 503].includes(s.status))) problems.push(`${face}: unexpected status`)
    if (!face.endsWith('-revoked')) {
      if (face !== 'cached-verifier' && !mine.some((s) => s.startMs >= hungAt && s.endMs <= awakeAt && s.status === 503)) problems.push(`${face}: no 503 while Redis was hung`)
      const back = mine.find((s) => s.startMs >= awakeAt && s.status === 200)
      if (!back || workingAgainAt(back) > awakeAt + 2000) problems.push(`${face}: not back within 2 s of Redis waking`)
    }
  }
  assert.deepEqual(problems, [], report)
})

void test('a full Redis under noeviction: verification keeps working, writes fail closed with 503, nothing is forgotten', async (t) => {
  const rig = await startOutageRig()
  t.after(() => rig.close())
  const admin = createClient({ url: rig.redis.url })
  admin.on('error', () => {})
  await admin.connect()
  t.after(() => admin.destroy())
  const faces = rig.faces
  // Warm every face once (scripts loaded, log read) before memory runs out.
  for (const face of Object.values(faces)) await face()
  // One byte: every command that may grow memory is refused with OOM, reads still run.
  await admin.configSet({ maxmemory: '1', 'maxmemory-policy': 'noeviction' })
  const statuses: Record<string, number> = {}
  for (const [name, face] of Object.entries(faces)) statuses[name] = await face()
  assert.equal(statuses['server-me-revoked'], 401)
  assert.equal(statuses['strict-verifier-revoked'], 401)
  assert.equal(statuses['cached-verifier-revoked'], 401)
  // Reads: a full Redis still answers whether a token is revoked.
  assert.equal(statuses['strict-verifier'], 200, JSON.stringify(statuses))
  assert.equal(statuses['cached-verifier'], 200, JSON.stringify(statuses))
  assert.equal(statuses['server-me'], 200, JSON.stringify(statuses))
  // Writes: sign-in and rotation are refused, not half-done.
  assert.equal(statuses.login, 503, JSON.stringify(statuses))
  assert.equal(statuses.refresh, 503, JSON.stringify(statuses))
  await admin.configSet({ maxmemory: '0' })
  assert.equal(await faces.login!(), 200)
  assert.equal(await faces.refresh!(), 200)
})
