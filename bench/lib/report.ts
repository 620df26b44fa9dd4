// What every benchmark script prints: a markdown table for people, and one
// machine-readable line per row that run-all collects into bench/README.md.

/** One measured figure beside its target. */
export interface BenchRow {
  /** Issue row number (1-8) and a short label, e.g. "4 revoke-all, 1M others". */
  row: string
  /** The measured figure as text, with its unit. */
  figure: string
  /** The target as text, e.g. "<= 0.5 ms". */
  target: string
  /** The figure as a ratio against its baseline, when the row has one. */
  ratio?: string
  /** Whether the target is met; null when the row has no target (context only). */
  met: boolean | null
  /** What the figure means or what limits it. */
  note?: string
}

/** Prefix of the machine-readable lines on stdout. */
export const ROW_MARKER = 'BENCH_ROW '

/** Prints the rows as a markdown table and as marker lines for run-all. */
export function printRows(title: string, rows: readonly BenchRow[]): void {
  const lines = [`## ${title}`, '', '| row | figure | target | ratio | met |', '| --- | --- | --- | --- | --- |']
  for (const r of rows) lines.push(`| ${r.row} | ${r.figure} | ${r.target} | ${r.ratio ?? ''} | ${verdict(r.met)} |`)
  console.log(lines.join('\n') + '\n')
  for (const r of rows) console.log(ROW_MARKER + JSON.stringify(r))
}

/** "yes", "no" or "-" for a row's `met`. */
export function verdict(met: boolean | null): string {
  return met === null ? '-' : met ? 'yes' : 'no'
}

/** Parses the marker lines out of a script's stdout. */
export function parseRows(stdout: string): BenchRow[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith(ROW_MARKER))
    .map((l) => JSON.parse(l.slice(ROW_MARKER.length)) as BenchRow)
}

/** True when the script was asked for its few-second smoke variant. */
export function isSmoke(argv: readonly string[] = process.argv): boolean {
  return argv.includes('--smoke')
}
