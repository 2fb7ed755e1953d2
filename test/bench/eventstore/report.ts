/** One line of the results table: a pgfleet figure beside its raw baseline from the same run. */
export interface Figure {
  metric: string;
  unit: 'events/s' | 'ms';
  pgfleet: number;
  raw: number;
  /** What must hold: a minimum ratio pgfleet/raw, a minimum or a maximum pgfleet value. */
  target?: { minRatio: number } | { min: number } | { max: number };
}

export function percentile(sortedAscending: readonly number[], p: number): number {
  if (sortedAscending.length === 0) return Number.NaN;
  const rank = Math.min(sortedAscending.length - 1, Math.max(0, Math.ceil((p / 100) * sortedAscending.length) - 1));
  return sortedAscending[rank]!;
}

function formatValue(value: number, unit: Figure['unit']): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 'ms') return `${value.toFixed(2)} ms`;
  return `${Math.round(value).toLocaleString('en-US')} ev/s`;
}

function targetText(f: Figure): string {
  if (!f.target) return '-';
  if ('minRatio' in f.target) return `>= ${f.target.minRatio}x raw`;
  if ('min' in f.target) return `>= ${formatValue(f.target.min, f.unit)}`;
  return `<= ${formatValue(f.target.max, f.unit)}`;
}

function met(f: Figure): string {
  if (!f.target) return '-';
  const ok = 'minRatio' in f.target ? f.pgfleet / f.raw >= f.target.minRatio
    : 'min' in f.target ? f.pgfleet >= f.target.min
      : f.pgfleet <= f.target.max;
  return ok ? 'yes' : 'NO';
}

/** The table `metric | pgfleet | raw baseline | ratio | target | met?`, columns aligned. */
export function renderTable(figures: readonly Figure[]): string {
  const header = ['metric', 'pgfleet', 'raw baseline', 'ratio', 'target', 'met?'];
  const rows = figures.map((f) => [
    f.metric, formatValue(f.pgfleet, f.unit), formatValue(f.raw, f.unit),
    Number.isFinite(f.pgfleet / f.raw) ? `${(f.pgfleet / f.raw).toFixed(2)}x` : 'n/a', targetText(f), met(f),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
