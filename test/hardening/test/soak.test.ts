// The short soak for CI: a few seconds of mixed traffic, then every TTL must
// run out. `soak.long.test.ts` runs the same for 10 minutes.
import { test } from 'node:test'
import { assertSoak } from '../soak-verdict.js'
import { runSoak } from '../soak.js'

void test('mixed traffic for 5 s: no error, and Redis holds nothing but the trimmed revocation log once sessions have expired', async () => {
  const figures = await runSoak({ durationMs: 5000, users: 6 })
  console.log(JSON.stringify(figures))
  // RSS over 5 s is mostly JIT warm-up; the growth bound is the long soak's.
  assertSoak(figures, { maxRssGrowth: null })
})
