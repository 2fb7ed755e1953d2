import type pg from 'pg';
import type { EventEnvelope } from '@pgfleet/contracts';
import type { ReadStreamOptions, ReadStreamResult } from '../port.js';
import { EVENT_COLUMNS, toEnvelope, type EventRow } from './rows.js';
import type { StoreSchema } from './schema.js';

/**
 * A stream's events in version order, and its current version, from one snapshot (so a decider
 * folding these events and appending at that version never misses a concurrent write).
 * `until` keeps events that occurred at or before that instant (audit "as of").
 */
export async function readStream(pool: pg.Pool, s: StoreSchema, streamId: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
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
  const events: EventEnvelope[] = [];
  for (const row of rows) if (row.id !== null) events.push(toEnvelope(row as EventRow));
  return { events, currentVersion: rows.length > 0 ? Number(rows[0]!.current_version) : 0 };
}

/** Stored events by id, in stream order (the answer to a repeated, idempotent append). */
export async function readEventsById(pool: pg.Pool, s: StoreSchema, ids: readonly string[]): Promise<EventEnvelope[]> {
  const { rows } = await pool.query<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM ${s.events} e WHERE e.event_id = ANY($1::uuid[]) ORDER BY e.stream_version`, [ids]);
  return rows.map(toEnvelope);
}
