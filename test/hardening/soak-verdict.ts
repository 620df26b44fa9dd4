import assert from 'node:assert/strict'
import type { SoakFigures } from './soak.js'

/**
 * The soak's pass conditions: no error answer; nothing left in Redis but the
 * revocation log, itself trimmed to what verifiers may still need; used
 * memory back near the baseline; RSS growth within `maxRssGrowth` (null skips
 * it, for runs too short to tell growth from warm-up).
 */
export function assertSoak(figures: SoakFigures, limits: { maxRssGrowth: number | null }): void {
  assert.deepEqual(figures.errors, {}, 'error answers during the soak')
  assert.ok(figures.requests > 100, `only ${figures.requests} requests`)
  assert.ok(figures.keysAfter.every((k) => k.includes('revocations')), `keys left after every TTL ran out: ${figures.keysAfter.join(', ')}`)
  // Only the log is left, trimmed to about one access-token lifetime (approximately: by whole stream nodes).
  assert.ok(figures.redisAfterBytes <= figures.redisBaselineBytes + 64 * 1024, `keys held ${figures.redisAfterBytes} bytes after clean-up, baseline ${figures.redisBaselineBytes}`)
  if (limits.maxRssGrowth !== null) assert.ok(figures.rssGrowth <= limits.maxRssGrowth, `RSS grew ${(figures.rssGrowth * 100).toFixed(1)}%`)
}
