/** One line of the results table: a pgfleet figure beside its raw baseline, measured in the same runs. */
export interface Figure {
  metric: string;
  unit: 'events/s' | 'ms';
  /** One value per run, in run order; `raw[i]` was measured right beside `pgfleet[i]`. */
  pgfleet: number[];
  raw: number[];
  /** What must hold of the medians: a minimum ratio pgfleet/raw, a minimum or a maximum pgfleet value. */
  target?: { minRatio: number } | { min: number } | { max: number };
}

export function percentile(sortedAscending: readonly number[], p: number): number {
  if (sortedAscending.length === 0) return Number.NaN;
  const rank = Math.min(sortedAscending.length - 1, Math.max(0, Math.ceil((p / 100) * sortedAscending.length) - 1));
  return sortedAscending[rank]!;
}

/** The median of the values (the mean of the middle two for an even count). */
function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The ratio pgfleet/raw of each run. */
function ratios(f: Figure): number[] {
  return f.pgfleet.map((p, i) => p / f.raw[i]!);
}

function formatValue(value: number, unit: Figure['unit'] | 'x'): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 'x') return `${value.toFixed(2)}x`;
  if (unit === 'ms') return `${value.toFixed(2)} ms`;
  return `${Math.round(value).toLocaleString('en-US')} ev/s`;
}

/** "median [min - max]" of one figure's runs (the bare value for a single run). */
function spread(values: readonly number[], unit: Figure['unit'] | 'x'): string {
  if (values.length <= 1) return formatValue(values[0] ?? Number.NaN, unit);
  const compact = (v: number) =>
    unit === 'x' ? v.toFixed(2) : unit === 'ms' ? v.toFixed(1) : Math.round(v).toLocaleString('en-US');
  return `${formatValue(median(values), unit)} [${compact(Math.min(...values))} - ${compact(Math.max(...values))}]`;
}

function targetText(f: Figure): string {
  if (!f.target) return '-';
  if ('minRatio' in f.target) return `>= ${f.target.minRatio}x raw`;
  if ('min' in f.target) return `>= ${formatValue(f.target.min, f.unit)}`;
  return `<= ${formatValue(f.target.max, f.unit)}`;
}

/** Whether the target holds for the medians. */
function met(f: Figure): string {
  if (!f.target) return '-';
  const pgfleet = median(f.pgfleet);
  const ok =
    'minRatio' in f.target
      ? median(ratios(f)) >= f.target.minRatio
      : 'min' in f.target
        ? pgfleet >= f.target.min
        : pgfleet <= f.target.max;
  return ok ? 'yes' : 'NO';
}

/**
 * The table `metric | pgfleet | raw baseline | ratio | target | met?`, columns aligned. With
 * several runs each cell is "median [min - max]" over the runs, the ratio taken run by run, and
 * the target is checked on the medians.
 */
export function renderTable(figures: readonly Figure[]): string {
  const header = ['metric', 'pgfleet', 'raw baseline', 'ratio', 'target', 'met?'];
  const rows = figures.map((f) => [
    f.metric,
    spread(f.pgfleet, f.unit),
    spread(f.raw, f.unit),
    spread(ratios(f), 'x'),
    targetText(f),
    met(f),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
