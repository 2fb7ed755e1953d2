import type pg from 'pg';
import type { ParkedEvent } from '../port.js';
import type { StoreSchema } from './schema.js';

/**
 * Record parked events in the store's `parked_events` table, once per event id (whichever
 * process meets it first). Returns the ids recorded by this call: only those are reported.
 * The events stay where they are; an operator lists them with `SELECT * FROM <schema>.parked_events`.
 */
export async function recordParkedEvents(
  pool: pg.Pool,
  s: StoreSchema,
  events: readonly ParkedEvent[],
): Promise<ReadonlySet<string>> {
  const { rows } = await pool.query<{ event_id: string }>(
    `INSERT INTO ${s.parkedEvents} (event_id, stream_id, stream_version, type, schema_version, code, reason)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::integer[], $6::text[], $7::text[])
     ON CONFLICT (event_id) DO NOTHING
     RETURNING event_id::text`,
    [
      events.map((e) => e.id),
      events.map((e) => e.streamId),
      events.map((e) => e.streamVersion),
      events.map((e) => e.type),
      events.map((e) => e.schemaVersion),
      events.map((e) => e.code),
      events.map((e) => e.reason),
    ],
  );
  return new Set(rows.map((r) => r.event_id));
}
