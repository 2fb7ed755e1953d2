import { loadavg } from 'node:os';

/**
 * One line of a platform benchmark's table: a pgfleet wall time beside its raw baseline, one value
 * per run; `raw[i]` was measured right beside `pgfleet[i]`.
 */
export interface Figure {
  metric: string;
  pgfleet: number[];
  raw: number[];
  /** What must hold of the medians: pgfleet / raw at most, or pgfleet - raw at most (ms). */
  target?: { maxRatio: number } | { maxOverheadMs: number };
}

/** The median of the values (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const ratios = (f: Figure) => f.pgfleet.map((p, i) => p / f.raw[i]!);
const overheads = (f: Figure) => f.pgfleet.map((p, i) => p - f.raw[i]!);

/** "median [min - max]" of one figure's runs (the bare value for a single run). */
export function spread(values: readonly number[], unit: 'ms' | 'x'): string {
  const fmt = (v: number) => (unit === 'x' ? v.toFixed(2) : v.toFixed(0));
  const m = `${fmt(median(values))}${unit === 'x' ? 'x' : ' ms'}`;
  return values.length <= 1 ? m : `${m} [${fmt(Math.min(...values))} - ${fmt(Math.max(...values))}]`;
}

function targetText(f: Figure): string {
  if (!f.target) return '-';
  return 'maxRatio' in f.target ? `ratio <= ${f.target.maxRatio}x` : `pgfleet - raw <= ${f.target.maxOverheadMs} ms`;
}

/** Whether the target holds for the medians (of the run-by-run ratios or differences). */
function met(f: Figure): string {
  if (!f.target) return '-';
  const ok =
    'maxRatio' in f.target ? median(ratios(f)) <= f.target.maxRatio : median(overheads(f)) <= f.target.maxOverheadMs;
  return ok ? 'yes' : 'NO';
}

/**
 * The table `metric | pgfleet | raw baseline | ratio | pgfleet - raw | target | met?`, columns
 * aligned; each cell is "median [min - max]" over the runs, the ratio and the difference taken run
 * by run, the target checked on their medians.
 */
export function renderTable(figures: readonly Figure[]): string {
  const header = ['metric', 'pgfleet', 'raw baseline', 'ratio', 'pgfleet - raw', 'target', 'met?'];
  const rows = figures.map((f) => [
    f.metric,
    spread(f.pgfleet, 'ms'),
    spread(f.raw, 'ms'),
    spread(ratios(f), 'x'),
    spread(overheads(f), 'ms'),
    targetText(f),
    met(f),
  ]);
  return alignedTable(header, rows);
}

/** Rows under a header, columns padded (the first to the left, the others to the right). */
export function alignedTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

/** The 1, 5 and 15 minute load averages: other work on the machine skews every figure. */
export function loadNow(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
