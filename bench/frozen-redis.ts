// How long the server takes to answer 503 while Redis is frozen (SIGSTOP), per
// face, over N rounds (default 20; each round sends one request per face at
// once). Prints min / median / p90 / max time to 503 and the load average.
// node --conditions=tessera-source --import tsx bench/frozen-redis.ts [--rounds 20] [--limit 1000]
import { loadavg } from 'node:os'
import { FROZEN_FACES, startFrozenRig, type FrozenSample } from '../test/hardening/frozen-redis.js'

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`)
  return at === -1 ? fallback : Number(process.argv[at + 1])
}

const rounds = option('rounds', 20)
const limitMs = option('limit', 1000)
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

const rig = await startFrozenRig(limitMs)
try {
  await rig.healthy()
  const before = loadavg()
  rig.freeze()
  const samples: FrozenSample[] = []
  for (let i = 0; i < rounds; i++) samples.push(...(await rig.round()))
  rig.thaw()
  const after = loadavg()
  console.log(`frozen Redis, limit ${limitMs} ms, ${rounds} rounds; load average ${before.map((l) => l.toFixed(2)).join(' ')} -> ${after.map((l) => l.toFixed(2)).join(' ')}`)
  console.log('| face | 503s | min | median | p90 | max |')
  console.log('| --- | --- | --- | --- | --- | --- |')
  for (const face of [...FROZEN_FACES, 'all'] as const) {
    const mine = samples.filter((s) => face === 'all' || s.face === face)
    const times = mine.map((s) => s.elapsedMs).sort((a, b) => a - b)
    const fmt = (ms: number) => `${ms.toFixed(1)} ms`
    console.log(`| ${face} | ${mine.filter((s) => s.status === 503).length}/${mine.length} | ${fmt(times[0]!)} | ${fmt(quantile(times, 0.5))} | ${fmt(quantile(times, 0.9))} | ${fmt(times.at(-1)!)} |`)
  }
} finally {
  await rig.close()
}
