import pg from 'pg';
import { parseEnvelope } from '@pgfleet/contracts';
import { createPostgresEventStore, type Checkpoint, type EventStore } from '@pgfleet/eventstore';
import { createRawTable, RAW_COLUMNS, SAMPLE_SCHEMA_VERSION, SAMPLE_TYPE, STREAM_LENGTH } from './events.js';
import { log, type Figure } from './report.js';

const SCHEMA = 'bench_catchup';
const RAW_TABLE = 'public.raw_catchup';
const FILL_CHUNK = 100_000;

export interface CatchUpBenchOptions {
  connectionString: string;
  events: number;
  pageSize: number;
  /** Reads of the whole store (each side, alternating) after one fill. */
  runs: number;
}

export interface CatchUpResult {
  figure: Figure;
  /** What was checked about the events the store returned. */
  correctness: string;
}

/**
 * Fill a fresh store with `events` events straight into its tables (one INSERT ... SELECT per
 * 100,000 events, each its own transaction; every row a schema-valid NodeStarted with a
 * UUIDv7 id, STREAM_LENGTH events per stream, streams table consistent), and copy the same rows
 * into a plain table for the baseline.
 */
async function fill(db: pg.Pool, events: number): Promise<void> {
  const baseMs = Date.now() - events;
  const version = `((g - 1) % ${STREAM_LENGTH}) + 1`;
  for (let lo = 1; lo <= events; lo += FILL_CHUNK) {
    const hi = Math.min(events, lo + FILL_CHUNK - 1);
    await db.query(
      `
      INSERT INTO ${SCHEMA}.events (event_id, stream_id, stream_version, type, schema_version, data,
                                   occurred_at, correlation_id, causation_id, actor_kind, actor_id)
      SELECT u.id, 'cluster-bench' || lpad(((g - 1) / ${STREAM_LENGTH})::text, 8, '0'), ${version}, $3, $4,
             jsonb_build_object('nodeId', 'node-' || ((${version}) % 3), 'port', 5432 + (${version}) % 100,
                                'pid', 1000 + ${version}),
             to_timestamp(($5::bigint + g) / 1000.0), u.id::text, NULL, 'system', 'pgfleet'
        FROM generate_series($1::bigint, $2::bigint) AS g,
             LATERAL (SELECT (lpad(to_hex($5::bigint + g), 12, '0') || '7' || substr(md5(random()::text || g), 1, 3)
                              || to_hex(8 + floor(random() * 4)::int)
                              || substr(md5(g::text || random()::text), 1, 15))::uuid AS id) AS u
       ORDER BY g`,
      [lo, hi, SAMPLE_TYPE, SAMPLE_SCHEMA_VERSION, baseMs],
    );
    log(`catch-up fill: ${hi.toLocaleString('en-US')} / ${events.toLocaleString('en-US')} events`);
  }
  await db.query(`INSERT INTO ${SCHEMA}.streams (stream_id, version)
                  SELECT stream_id, max(stream_version) FROM ${SCHEMA}.events GROUP BY stream_id`);
  await createRawTable(db, RAW_TABLE);
  await db.query(`INSERT INTO ${RAW_TABLE} (position, ${RAW_COLUMNS.join(', ')})
                  SELECT position, ${RAW_COLUMNS.join(', ')} FROM ${SCHEMA}.events ORDER BY position`);
  await db.query(`VACUUM ANALYZE ${SCHEMA}.events`);
  await db.query(`VACUUM ANALYZE ${RAW_TABLE}`);
  await db.query('CHECKPOINT');
}

/** Per-stream order check, done the same way on both sides so they pay the same client work. */
class StreamOrder {
  private readonly last = new Map<string, number>();
  violations = 0;
  see(streamId: string, version: number): void {
    if (version !== (this.last.get(streamId) ?? 0) + 1) this.violations++;
    this.last.set(streamId, version);
  }
}

/** Keyset pages of the plain table from the beginning: rows per second. */
async function readRaw(db: pg.Pool, pageSize: number, events: number): Promise<number> {
  const started = performance.now();
  const order = new StreamOrder();
  let count = 0;
  let after = '0';
  for (;;) {
    const { rows } = await db.query<{ position: string; stream_id: string; stream_version: string }>({
      name: 'raw-catchup-page',
      text: `SELECT position, ${RAW_COLUMNS.join(', ')} FROM ${RAW_TABLE}
              WHERE position > $1 ORDER BY position LIMIT $2`,
      values: [after, pageSize],
    });
    if (rows.length === 0) break;
    for (const row of rows) order.see(row.stream_id, Number(row.stream_version));
    count += rows.length;
    after = rows[rows.length - 1]!.position;
  }
  const rate = count / ((performance.now() - started) / 1000);
  if (count !== events || order.violations > 0)
    throw new Error(`raw catch-up read ${count} rows (${order.violations} out of order), expected ${events}`);
  return rate;
}

/** store.readAll pages from the beginning: events per second, and the first envelope of every page. */
async function readStore(
  store: EventStore,
  pageSize: number,
  events: number,
): Promise<{ rate: number; samples: unknown[] }> {
  const started = performance.now();
  const order = new StreamOrder();
  const samples: unknown[] = [];
  let count = 0;
  let checkpoint: Checkpoint = null;
  for (;;) {
    const page = await store.readAll({ after: checkpoint, limit: pageSize });
    if (page.events.length === 0) break;
    for (const event of page.events) order.see(event.streamId, event.streamVersion);
    samples.push(page.events[0]);
    count += page.events.length;
    checkpoint = page.checkpoint;
  }
  const rate = count / ((performance.now() - started) / 1000);
  if (count !== events) throw new Error(`catch-up read ${count} events from the store, expected ${events}`);
  if (order.violations > 0) throw new Error(`catch-up read events out of stream order (${order.violations})`);
  return { rate, samples };
}

/** Catch-up read throughput: store.readAll pages from the beginning vs keyset pages of the plain table. */
export async function benchCatchUp(opts: CatchUpBenchOptions): Promise<CatchUpResult> {
  const db = new pg.Pool({ connectionString: opts.connectionString, max: 2, application_name: 'bench-raw' });
  const store = createPostgresEventStore({ connectionString: opts.connectionString, schema: SCHEMA, poolSize: 2 });
  try {
    await store.migrate();
    await fill(db, opts.events);
    const figure: Figure = {
      metric: `catch-up read of ${opts.events.toLocaleString('en-US')} events (pages of ${opts.pageSize})`,
      unit: 'events/s',
      pgfleet: [],
      raw: [],
      target: { min: 100_000 },
    };
    let samples: unknown[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      const raw = await readRaw(db, opts.pageSize, opts.events);
      const read = await readStore(store, opts.pageSize, opts.events);
      samples = read.samples;
      log(`catch-up (run ${run}/${opts.runs}): pgfleet ${Math.round(read.rate)} ev/s, raw ${Math.round(raw)} ev/s`);
      figure.pgfleet.push(read.rate);
      figure.raw.push(raw);
    }
    const invalid = samples.filter((e) => !parseEnvelope(e).ok).length;
    if (invalid > 0) throw new Error(`catch-up read ${invalid} invalid envelopes`);
    return {
      figure,
      correctness:
        `catch-up: ${opts.events.toLocaleString('en-US')} events read ${opts.runs} time(s), ` +
        'each stream in version order, ' +
        `${samples.length} sampled envelopes (first of every page of the last read) valid by parseEnvelope`,
    };
  } finally {
    await store.close();
    await db.end();
  }
}
