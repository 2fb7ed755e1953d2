import pg from 'pg';
import type { PostgresEventStore } from '@pgfleet/eventstore';
import { createRawTable, newStreamId, rawInsert, rawRowValues, sampleEvents, STREAM_LENGTH } from './events.js';
import { log, type Figure } from './report.js';

/** One append of `batch` events by one writer (each writer has its own streams). */
type AppendOnce = (batch: number) => Promise<void>;

/** A writer on the event store: appendToStream with the exact expected version. */
function storeWriter(store: PostgresEventStore): AppendOnce {
  let streamId = newStreamId();
  let version = 0;
  return async (batch) => {
    const result = await store.appendToStream(streamId, sampleEvents(batch, version + 1), { expectedVersion: version });
    version = result.nextExpectedVersion;
    if (version + batch > STREAM_LENGTH) {
      streamId = newStreamId();
      version = 0;
    }
  };
}

/** A writer of the same rows into a plain table: one multi-row INSERT per batch. */
function rawWriter(pool: pg.Pool, table: string): AppendOnce {
  let streamId = newStreamId();
  let version = 0;
  return async (batch) => {
    await pool.query({ ...rawInsert(table, batch), values: rawRowValues(streamId, version, batch) });
    version += batch;
    if (version + batch > STREAM_LENGTH) {
      streamId = newStreamId();
      version = 0;
    }
  };
}

/** `writers` concurrent loops of appends of `batch` events for `seconds`: events per second. */
async function throughput(
  makeWriter: () => AppendOnce,
  writers: number,
  batch: number,
  seconds: number,
): Promise<number> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const counts = await Promise.all(
    Array.from({ length: writers }, async () => {
      const append = makeWriter();
      let events = 0;
      while (performance.now() < deadline) {
        await append(batch);
        events += batch;
      }
      return events;
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return counts.reduce((a, b) => a + b, 0) / elapsed;
}

export interface AppendBenchOptions {
  store: PostgresEventStore;
  connectionString: string;
  seconds: number;
  /** Measurements of each figure, raw and pgfleet alternating. */
  runs: number;
  batches?: number[];
  writerCounts?: number[];
}

/**
 * Append throughput of the store against plain INSERTs of the same rows into the same database,
 * for every batch size and writer count, `runs` times each (raw, then pgfleet, run after run, so
 * a load that comes and goes hits both sides alike). A CHECKPOINT before each measurement keeps
 * one run's dirty pages from being flushed during the next; each side is warmed up briefly first.
 */
export async function benchAppend(opts: AppendBenchOptions): Promise<Figure[]> {
  const { store, seconds } = opts;
  const pool = new pg.Pool({ connectionString: opts.connectionString, max: 10, application_name: 'bench-raw' });
  const table = 'public.raw_append';
  const figures: Figure[] = [];
  try {
    await store.migrate();
    await createRawTable(pool, table);
    const warmup = Math.min(1, seconds / 5);
    await throughput(() => storeWriter(store), 8, 10, warmup);
    await throughput(() => rawWriter(pool, table), 8, 10, warmup);
    for (const writers of opts.writerCounts ?? [1, 8]) {
      for (const batch of opts.batches ?? [1, 10, 100]) {
        const size = batch === 1 ? '1 event/append' : `batch of ${batch}`;
        const label = `append ${size}, ${writers} writer${writers > 1 ? 's' : ''}`;
        const figure: Figure = {
          metric: label,
          unit: 'events/s',
          pgfleet: [],
          raw: [],
          ...(batch > 1 ? { target: { minRatio: 0.5 } } : {}),
        };
        for (let run = 1; run <= opts.runs; run++) {
          await pool.query('CHECKPOINT');
          const raw = await throughput(() => rawWriter(pool, table), writers, batch, seconds);
          await pool.query('CHECKPOINT');
          const pgfleet = await throughput(() => storeWriter(store), writers, batch, seconds);
          log(
            `${label} (run ${run}/${opts.runs}): pgfleet ${Math.round(pgfleet)} ev/s, raw ${Math.round(raw)} ev/s, ` +
              `${(pgfleet / raw).toFixed(2)}x`,
          );
          figure.pgfleet.push(pgfleet);
          figure.raw.push(raw);
        }
        figures.push(figure);
      }
    }
    return figures;
  } finally {
    await pool.end();
  }
}
