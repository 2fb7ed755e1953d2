import type pg from 'pg';
import type { EventEnvelope } from '@pgfleet/contracts';
import type { Parking } from '../parking.js';
import type { ReadStreamOptions, ReadStreamResult } from '../port.js';
import { EVENT_COLUMNS, readRows, type EventRow } from './rows.js';
import type { StoreSchema } from './schema.js';

/**
 * A stream's events in version order, and its current version, from one snapshot (so a decider
 * folding these events and appending at that version never misses a concurrent write).
 * `until` keeps events that occurred at or before that instant (audit "as of"). Events come upcast;
 * a parked one is left out but still counts in the current version.
 */
export async function readStream(
  pool: pg.Pool,
  s: StoreSchema,
  parking: Parking,
  streamId: string,
  options: ReadStreamOptions = {},
): Promise<ReadStreamResult> {
  const { rows } = await pool.query<Omit<EventRow, 'id'> & { current_version: string; id: string | null }>({
    name: `${s.schema}.readStream`,
    text: `
      SELECT st.version::text AS current_version, ${EVENT_COLUMNS}
        FROM ${s.streams} st
        LEFT JOIN ${s.events} e
          ON e.stream_id = st.stream_id
         AND e.stream_version >= $2 AND e.stream_version <= $3
         AND ($4::timestamptz IS NULL OR e.occurred_at <= $4::timestamptz)
       WHERE st.stream_id = $1
       ORDER BY e.stream_version`,
    values: [streamId, options.fromVersion ?? 1, options.toVersion ?? Number.MAX_SAFE_INTEGER, options.until ?? null],
  });
  const events = await readRows(
    rows.filter((row): row is EventRow & { current_version: string } => row.id !== null),
    parking,
  );
  return { events, currentVersion: rows.length > 0 ? Number(rows[0]!.current_version) : 0 };
}

/** Stored events by id, in stream order (the answer to a repeated, idempotent append). */
export async function readEventsById(
  pool: pg.Pool,
  s: StoreSchema,
  parking: Parking,
  ids: readonly string[],
): Promise<EventEnvelope[]> {
  const { rows } = await pool.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM ${s.events} e WHERE e.event_id = ANY($1::uuid[]) ORDER BY e.stream_version`,
    [ids],
  );
  return readRows(rows, parking);
}
