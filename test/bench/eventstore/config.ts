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
  };
}
