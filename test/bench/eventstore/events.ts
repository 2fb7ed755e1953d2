import type pg from 'pg';
import { EVENTS, uuidv7, type EventEnvelope } from '@pgfleet/contracts';
import type { NewEvent } from '@pgfleet/eventstore';

/** Events per stream before a writer moves on to a new stream. */
export const STREAM_LENGTH = 1000;

export const SAMPLE_TYPE = 'NodeStarted' as const;
export const SAMPLE_SCHEMA_VERSION = EVENTS[SAMPLE_TYPE].schemaVersion;
const SYSTEM = { kind: 'system', id: 'pgfleet' } as const;

/** The data of the n-th sample event (a real, schema-valid NodeStarted). */
function sampleData(n: number) {
  return { nodeId: `node-${n % 3}`, port: 5432 + (n % 100), pid: 1000 + n };
}

export function newStreamId(): string {
  return `cluster-${uuidv7()}`;
}

/** A batch of sample events for the store, with ids chosen here (the latency figure needs them). */
export function sampleEvents(count: number, from: number): NewEvent[] {
  return Array.from({ length: count }, (_, i) => ({ id: uuidv7(), type: SAMPLE_TYPE, data: sampleData(from + i) }));
}

/** The same event as a full envelope, as the relay would publish it (raw JetStream baseline). */
export function sampleEnvelope(streamId: string, version: number, position: number): EventEnvelope {
  const id = uuidv7();
  return {
    id,
    type: SAMPLE_TYPE,
    streamId,
    streamVersion: version,
    globalPosition: String(position),
    occurredAt: new Date().toISOString(),
    schemaVersion: SAMPLE_SCHEMA_VERSION,
    correlationId: id,
    causationId: null,
    actor: SYSTEM,
    data: sampleData(version),
  } as EventEnvelope;
}

/** The raw baseline's columns: the store's event columns, in a plain table. */
export const RAW_COLUMNS = [
  'event_id',
  'stream_id',
  'stream_version',
  'type',
  'schema_version',
  'data',
  'occurred_at',
  'correlation_id',
  'causation_id',
  'actor_kind',
  'actor_id',
] as const;

/**
 * A plain table with the same columns as the store's events table: a bigserial primary key and
 * nothing else (no unique constraints, no xid stamp, no streams table, no function).
 */
export async function createRawTable(db: pg.Pool | pg.Client, table: string): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${table}`);
  await db.query(`CREATE TABLE ${table} (
    position bigserial PRIMARY KEY,
    event_id uuid NOT NULL,
    stream_id text NOT NULL,
    stream_version bigint NOT NULL,
    type text NOT NULL,
    schema_version integer NOT NULL,
    data jsonb NOT NULL,
    occurred_at timestamptz NOT NULL,
    correlation_id text NOT NULL,
    causation_id text,
    actor_kind text NOT NULL,
    actor_id text NOT NULL)`);
}

/** The parameter values of `count` raw rows continuing `streamId` after `version`. */
export function rawRowValues(streamId: string, version: number, count: number): unknown[] {
  const values: unknown[] = [];
  const now = new Date().toISOString();
  for (let i = 1; i <= count; i++) {
    const id = uuidv7();
    values.push(
      id,
      streamId,
      version + i,
      SAMPLE_TYPE,
      SAMPLE_SCHEMA_VERSION,
      JSON.stringify(sampleData(version + i)),
      now,
      id,
      null,
      SYSTEM.kind,
      SYSTEM.id,
    );
  }
  return values;
}

/** A prepared multi-row INSERT of `count` rows into `table`. */
export function rawInsert(table: string, count: number): { name: string; text: string } {
  const width = RAW_COLUMNS.length;
  const rows = Array.from(
    { length: count },
    (_, r) => `(${Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`).join(', ')})`,
  );
  return {
    name: `raw-insert-${table}-${count}`,
    text: `INSERT INTO ${table} (${RAW_COLUMNS.join(', ')}) VALUES ${rows.join(', ')}`,
  };
}
