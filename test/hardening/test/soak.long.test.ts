// The 10-minute soak (`npm run test:long`): mixed traffic, RSS growth at most
// 10%, no error, and Redis back to its baseline keys once sessions expire.
import { test } from 'node:test'
import { assertSoak } from '../soak-verdict.js'
import { runSoak } from '../soak.js'

void test('10 minutes of mixed traffic: RSS grows at most 10%, no error, TTLs clean Redis up', async () => {
  const figures = await runSoak({ durationMs: Number(process.env.TESSERA_SOAK_MS ?? 600_000), users: 20 })
  console.log(JSON.stringify(figures))
  assertSoak(figures, { maxRssGrowth: 0.1 })
})
