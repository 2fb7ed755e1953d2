import type { EventEnvelope } from '@pgfleet/contracts';
import type { Parking } from '../parking.js';
import type { ParkedEvent } from '../port.js';
import { upcastOnRead, type ReadOutcome, type StoredEnvelope } from '../upcastOnRead.js';

/** The columns every read selects, already in envelope form (text positions, ISO instants). */
export const EVENT_COLUMNS = `
  e.event_id::text AS id, e.type, e.stream_id, e.stream_version::integer AS stream_version,
  e.position::text AS position,
  to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at,
  e.schema_version, e.correlation_id, e.causation_id, e.actor_kind, e.actor_id, e.data`;

export interface EventRow {
  id: string;
  type: string;
  stream_id: string;
  stream_version: number;
  position: string;
  occurred_at: string;
  schema_version: number;
  correlation_id: string;
  causation_id: string | null;
  actor_kind: string;
  actor_id: string;
  data: unknown;
}

/** A stored row as the code reads it: upcast to the current schema of its type, or parked. */
export function readRow(row: EventRow): ReadOutcome {
  return upcastOnRead(toStoredEnvelope(row));
}

/** Rows as envelopes, in order; the parked ones are left out (and recorded, reported once). */
export async function readRows(rows: readonly EventRow[], parking: Parking): Promise<EventEnvelope[]> {
  const events: EventEnvelope[] = [];
  const parked: ParkedEvent[] = [];
  for (const row of rows) {
    const read = readRow(row);
    if (read.ok) events.push(read.event);
    else parked.push(read.parked);
  }
  if (parked.length > 0) await parking.park(parked);
  return events;
}

/** A stored row as an envelope at its stored schema version: no parsing beyond the driver's. */
function toStoredEnvelope(row: EventRow): StoredEnvelope {
  return {
    id: row.id,
    type: row.type,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    globalPosition: row.position,
    occurredAt: row.occurred_at,
    schemaVersion: row.schema_version,
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    actor: { kind: row.actor_kind, id: row.actor_id },
    data: row.data,
  } as StoredEnvelope;
}
