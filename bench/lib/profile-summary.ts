// Summarises a V8 .cpuprofile (node --cpu-prof) as the functions with the most
// self time, and the share of time per package, for the notes on missed targets.
// Run: node --conditions=tessera-source --import tsx bench/lib/profile-summary.ts <file.cpuprofile> [top]
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}
interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

/** Where a script URL belongs: a package name, "tessera src/<area>", "node:" internals or a V8 pseudo-frame. */
function owner(url: string, name: string): string {
  if (!url) return `(${name || 'native'})`
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1]!
  const src = /\/src\/([^/]+)\//.exec(url)
  if (src) return `tessera src/${src[1]}`
  if (url.startsWith('node:')) return 'node internals'
  return url.replace(/^.*\//, '')
}

/** Self time in ms per function and per owner, largest first. */
export function summarise(profile: CpuProfile): { totalMs: number; functions: [string, number][]; owners: [string, number][] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const fn = new Map<string, number>()
  const own = new Map<string, number>()
  let totalMs = 0
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000
    const node = byId.get(id)!
    const { functionName, url, lineNumber } = node.callFrame
    const key = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim()
    fn.set(key, (fn.get(key) ?? 0) + ms)
    const o = owner(url, functionName)
    own.set(o, (own.get(o) ?? 0) + ms)
    totalMs += ms
  })
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1])
  return { totalMs, functions: sorted(fn), owners: sorted(own) }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2]
  if (!file) throw new TypeError('usage: profile-summary.ts <file.cpuprofile> [top]')
  const top = Number(process.argv[3] ?? 15)
  const { totalMs, functions, owners } = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile)
  const pct = (ms: number) => `${((100 * ms) / totalMs).toFixed(1)}%`
  console.log(`${file}: ${Math.round(totalMs)} ms sampled on the main thread\n\nself time by owner:`)
  for (const [name, ms] of owners.slice(0, top)) console.log(`  ${pct(ms).padStart(6)}  ${name}`)
  console.log('\nself time by function:')
  for (const [name, ms] of functions.slice(0, top)) console.log(`  ${pct(ms).padStart(6)}  ${name}`)
}
