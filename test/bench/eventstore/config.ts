/** Sizes of the event store benchmark, from the environment (defaults = the full run). */
export interface BenchConfig {
  /** Events filled into the store and read back by the catch-up figure. */
  catchUpEvents: number;
  /** Events per readAll / keyset page. */
  pageSize: number;
  /** Measured seconds of each append figure (each batch size x writer count, pgfleet and raw). */
  appendSeconds: number;
  /** Events appended per second by the latency figure, and for how long. */
  latencyRate: number;
  latencySeconds: number;
  /** Measurements of every figure (each side); the table gives median and range over them. */
  runs: number;
  /** The figures to measure (default all). */
  only: ReadonlySet<BenchPart>;
}

const BENCH_PARTS = ['append', 'catch-up', 'latency'] as const;
type BenchPart = (typeof BENCH_PARTS)[number];

function parts(name: string): ReadonlySet<BenchPart> {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return new Set(BENCH_PARTS);
  const wanted = raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const unknown = wanted.filter((p) => !(BENCH_PARTS as readonly string[]).includes(p));
  if (unknown.length > 0)
    throw new Error(`${name}: unknown part ${unknown.join(', ')}; known: ${BENCH_PARTS.join(', ')}`);
  return new Set(wanted as BenchPart[]);
}

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.replaceAll('_', ''));
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

export function benchConfig(): BenchConfig {
  return {
    catchUpEvents: Math.round(positive('BENCH_EVENTS', 1_000_000)),
    pageSize: Math.round(positive('BENCH_PAGE_SIZE', 1000)),
    appendSeconds: positive('BENCH_APPEND_SECONDS', 5),
    latencyRate: positive('BENCH_LATENCY_RATE', 1000),
    latencySeconds: positive('BENCH_LATENCY_SECONDS', 10),
    runs: Math.round(positive('BENCH_RUNS', 3)),
    only: parts('BENCH_ONLY'),
  };
}
