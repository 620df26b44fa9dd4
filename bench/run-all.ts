// Runs every benchmark, each bounded in time, one after another (never two at
// once: they share two cores), and rewrites the results section of
// bench/README.md. `--smoke` runs the few-second variants and prints instead
// of writing. Run: npm run bench  (or node --conditions=tessera-source --import tsx bench/run-all.ts [--smoke] [--only a,b] [--source])
// A full run first builds the packages (`npm run build`) and measures their dist/, the code an
// installed package runs; `--smoke` (what `npm test` runs) and `--source` use src/ through tsx,
// whose transform (source maps, esbuild keepNames) costs a little on every call.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { coldVerifyRows, propagationRows, protectedRouteRows } from './lib/foreign-tables.js'
import { LOAD_CORE, taskset } from './lib/processes.js'
import { isSmoke, parseRows, verdict, type BenchRow } from './lib/report.js'
import { ensurePrerequisites } from '../scripts/prerequisites.mjs'

/** One benchmark script and how to read its output. */
interface Job {
  name: string
  script: string
  args: string[]
  smokeArgs: string[]
  /** Hard bound; the script is killed by PID after it. */
  timeoutSec: number
  /** Node options before `--import tsx`. */
  nodeArgs?: string[]
  rows(stdout: string): BenchRow[]
}

const own = (name: string, script: string, timeoutSec: number): Job => ({ name, script, args: [], smokeArgs: ['--smoke'], timeoutSec, rows: parseRows })

/** Every benchmark, in issue-row order. Scripts that do not exist yet are reported as missing. */
export const JOBS: Job[] = [
  {
    name: 'protected-route (hot token)',
    script: 'protected-route.ts',
    args: ['--rounds', '3', '--seconds', '5', '--tokens', '1'],
    smokeArgs: ['--rounds', '1', '--seconds', '1', '--tokens', '1'],
    timeoutSec: 200,
    rows: (out) => protectedRouteRows(out, 'one hot token'),
  },
  {
    name: 'protected-route (10k tokens)',
    script: 'protected-route.ts',
    args: ['--rounds', '3', '--seconds', '5', '--tokens', '10000'],
    smokeArgs: ['--rounds', '1', '--seconds', '1', '--tokens', '200'],
    timeoutSec: 240,
    rows: (out) => protectedRouteRows(out, '10k tokens'),
  },
  { name: 'cold-verify', script: 'cold-verify.ts', nodeArgs: ['--expose-gc'], args: ['--time-ms', '2000'], smokeArgs: ['--time-ms', '30'], timeoutSec: 150, rows: coldVerifyRows },
  own('refresh', 'refresh.ts', 120),
  own('revoke-all', 'revoke-all.ts', 150),
  own('memory', 'memory.ts', 150),
  { name: 'propagation', script: 'propagation.ts', args: ['--revocations', '1000'], smokeArgs: ['--revocations', '20'], timeoutSec: 120, rows: propagationRows },
  own('login-storm', 'login-storm.ts', 150),
  own('growth', 'growth.ts', 180),
  own('peer better-auth', 'peer-better-auth.ts', 300),
  own('dpop', 'dpop.ts', 420),
  own('gateway', 'gateway.ts', 300),
  own('otel-overhead', 'otel-overhead.ts', 400),
]

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url))
const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** Result of one job: its rows, its printed tables, and how it ended. */
export interface JobResult {
  job: Job
  status: 'ok' | 'missing' | 'failed' | 'timed out' | 'skipped (over the 25 min budget)'
  seconds: number
  stdout: string
  rows: BenchRow[]
}

/** Node flags that choose where the @tessera packages load from: src/ (smoke, --source) or the built dist/. */
const codeFlags = (fromSource: boolean): string[] => (fromSource ? ['--conditions=tessera-source'] : [])

/** Command line of a job as a person would type it (from the repository root). */
export function commandOf(job: Job, smoke: boolean, fromSource = smoke): string {
  const pin = taskset() ? `taskset -c ${LOAD_CORE} ` : ''
  return `${pin}node ${[...(job.nodeArgs ?? []), ...codeFlags(fromSource), '--import', 'tsx'].join(' ')} bench/${job.script} ${(smoke ? job.smokeArgs : job.args).join(' ')}`.trim()
}

/** Runs one job pinned to the load core, killing it by PID at its time bound. */
export async function runJob(job: Job, smoke: boolean, fromSource = smoke): Promise<JobResult> {
  const path = BENCH_DIR + job.script
  if (!existsSync(path)) return { job, status: 'missing', seconds: 0, stdout: '', rows: [] }
  const argv = [process.execPath, ...(job.nodeArgs ?? []), ...codeFlags(fromSource), '--import', 'tsx', path, ...(smoke ? job.smokeArgs : job.args)]
  const pin = taskset()
  const child = pin ? spawn(pin, ['-c', String(LOAD_CORE), ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  const started = Date.now()
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  let timedOut = false
  // SIGTERM lets the script stop its own servers in `finally`; SIGKILL if it does not.
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGTERM')
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref()
  }, job.timeoutSec * 1000)
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  clearTimeout(timer)
  const seconds = (Date.now() - started) / 1000
  const status = timedOut ? 'timed out' : code === 0 ? 'ok' : 'failed'
  if (status !== 'ok') stdout += `\n(stderr tail)\n${stderr.split('\n').slice(-15).join('\n')}`
  return { job, status, seconds, stdout, rows: status === 'ok' ? job.rows(stdout) : [] }
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  let redis = 'redis ?'
  try {
    redis = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ')
  } catch {
    // version is context only
  }
  return `${cpus().length} x ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${redis}`
}

/** The generated part of bench/README.md. */
export function resultsSection(
  results: readonly JobResult[],
  meta: { date: string; machine: string; loadBefore: string; loadAfter: string; seconds: number; fromSource?: boolean },
): string {
  const out: string[] = [
    `Run ${meta.date} by \`npm run bench\` in ${Math.round(meta.seconds)} s on ${meta.machine}, measuring ${meta.fromSource ? 'the packages\' src/ through tsx (--source)' : 'the built packages (dist/, as installed)'}.`,
    `Load average (1/5/15 min) before: ${meta.loadBefore}; after: ${meta.loadAfter}.`,
    `Pinning: each script runs under \`taskset -c ${LOAD_CORE}\` with its load generator; servers it starts run under \`taskset -c 0\`; private redis-servers are pinned with \`taskset -a -c -p\` (see each table title).`,
    '',
    '| row | command | figure | target | ratio | met |',
    '| --- | --- | --- | --- | --- | --- |',
  ]
  for (const r of results) {
    const command = `\`${commandOf(r.job, false, meta.fromSource)}\``
    if (r.rows.length === 0) {
      out.push(`| ${r.job.name} | ${command} | ${r.status === 'ok' ? 'printed no rows run-all can read (see its output below)' : r.status} | | | |`)
    }
    for (const row of r.rows) out.push(`| ${row.row} | ${command} | ${row.figure} | ${row.target} | ${row.ratio ?? ''} | ${verdict(row.met)} |`)
  }
  out.push('', '### Output of each script', '')
  for (const r of results) {
    if (r.status === 'missing') continue
    const tables = r.stdout
      .split('\n')
      .filter((l) => !l.startsWith('BENCH_ROW '))
      .join('\n')
      .trim()
    out.push(`<details><summary>${r.job.name}: ${r.status} in ${Math.round(r.seconds)} s</summary>`, '', '```text', tables, '```', '', '</details>', '')
  }
  return out.join('\n')
}

const START = '<!-- results:start (rewritten by bench/run-all.ts) -->'
const END = '<!-- results:end -->'

/** Replaces the text between the results markers of `readme`. */
export function spliceResults(readme: string, section: string): string {
  const from = readme.indexOf(START)
  const to = readme.indexOf(END)
  if (from < 0 || to < from) return `${readme.trimEnd()}\n\n${START}\n${section}\n${END}\n`
  return `${readme.slice(0, from + START.length)}\n${section}\n${readme.slice(to)}`
}

/** The paths prerequisites.mjs matches to find what the chosen benchmarks launch (NGINX for the gateway's). */
export function prerequisiteFiles(jobs: Job[]): string[] {
  return jobs.map((j) => `bench/${j.script}`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const smoke = isSmoke()
  const fromSource = smoke || process.argv.includes('--source')
  const onlyAt = process.argv.indexOf('--only')
  const only = onlyAt > 0 ? process.argv[onlyAt + 1]!.split(',') : null
  const jobs = only ? JOBS.filter((j) => only.some((o) => j.name.startsWith(o))) : JOBS
  // Before anything else, as `npm test` does: a fresh machine without NGINX ran the whole
  // quarter hour and then recorded the gateway row as failed (spawn /usr/sbin/nginx ENOENT).
  const problem = await ensurePrerequisites(prerequisiteFiles(jobs))
  if (problem) {
    console.error(problem)
    process.exit(1)
  }
  if (!fromSource) {
    console.log('== npm run build (the benchmarks measure the built packages)')
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' })
  }
  const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' / ')
  const loadBefore = load()
  const started = Date.now()
  const results: JobResult[] = []
  // The whole run stays under 25 minutes (ten jobs and more, each bounded): a job that would start after 23 is skipped and reported as such.
  const budgetMs = 23 * 60_000
  for (const job of jobs) {
    if (Date.now() - started > budgetMs) {
      results.push({ job, status: 'skipped (over the 25 min budget)', seconds: 0, stdout: '', rows: [] })
      continue
    }
    console.log(`== ${job.name}: ${commandOf(job, smoke, fromSource)}`)
    const result = await runJob(job, smoke, fromSource)
    results.push(result)
    console.log(`   ${result.status} in ${result.seconds.toFixed(1)} s, ${result.rows.length} rows`)
  }
  const section = resultsSection(results, { date: new Date().toISOString(), machine: machine(), loadBefore, loadAfter: load(), seconds: (Date.now() - started) / 1000, fromSource })
  if (smoke || only) console.log(section)
  else {
    const readmePath = BENCH_DIR + 'README.md'
    writeFileSync(readmePath, spliceResults(existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '# Benchmarks\n', section))
    console.log(`rewrote ${readmePath}`)
  }
  if (results.some((r) => r.status === 'failed' || r.status === 'timed out')) process.exitCode = 1
}
