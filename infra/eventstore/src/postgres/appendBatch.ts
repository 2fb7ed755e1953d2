import type pg from 'pg';
import type { ExpectedVersion } from '../port.js';
import type { PreparedEvent } from '../prepareEvents.js';
import type { StoreSchema } from './schema.js';

/** One caller's append, validated, ready for append_batch. */
export interface PendingAppend {
  streamId: string;
  expected: ExpectedVersion;
  events: readonly PreparedEvent[];
}

/** What append_batch answers for one append: stored, or a version conflict (nothing stored). */
export type AppendOutcome =
  | { stored: true; version: number; positions: string[] }
  | { stored: false; actualVersion: number };

interface OutcomeRow {
  out_index: number;
  out_conflict: boolean;
  out_version: string;
  out_positions: string[] | null;
}

/**
 * One call of append_batch: the appends in one transaction (the caller's, or one of its own).
 * A version conflict of one append is an outcome and leaves the others stored; any error (a
 * stored event id above all) fails them all, and nothing is stored.
 */
export async function appendBatch(
  db: pg.Pool | pg.PoolClient,
  s: StoreSchema,
  appends: readonly PendingAppend[],
): Promise<AppendOutcome[]> {
  const { rows } = await db.query<OutcomeRow>({
    name: `${s.schema}.appendBatch`,
    text: `SELECT out_index, out_conflict, out_version::text, out_positions FROM ${s.appendBatch}($1::jsonb)`,
    values: [payloadOf(appends)],
  });
  const outcomes: AppendOutcome[] = new Array(appends.length);
  for (const row of rows) {
    outcomes[row.out_index] = row.out_conflict
      ? { stored: false, actualVersion: Number(row.out_version) }
      : { stored: true, version: Number(row.out_version), positions: row.out_positions ?? [] };
  }
  return outcomes;
}

/** The appends as append_batch reads them (jsonb_to_recordset keys for the events). */
function payloadOf(appends: readonly PendingAppend[]): string {
  return JSON.stringify(
    appends.map((a) => ({
      streamId: a.streamId,
      expected: String(a.expected),
      events: a.events.map((e) => ({
        id: e.id,
        type: e.type,
        schemaVersion: e.schemaVersion,
        data: e.data,
        occurredAt: e.occurredAt,
        correlationId: e.correlationId,
        causationId: e.causationId,
        actorKind: e.actor.kind,
        actorId: e.actor.id,
      })),
    })),
  );
}
