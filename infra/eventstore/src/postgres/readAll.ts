import type pg from 'pg';
import type { EventEnvelope } from '@pgfleet/contracts';
import type { Checkpoint, ReadAllResult } from '../port.js';
import { decodeCheckpoint } from './checkpoints.js';
import { EVENT_COLUMNS, toEnvelope, type EventRow } from './rows.js';
import type { StoreSchema } from './schema.js';

export const DEFAULT_READ_ALL_LIMIT = 1000;

/** A page of the global order, with what subscribers need besides the events. */
export interface GlobalPage extends ReadAllResult {
  /** The checkpoint after each event. */
  checkpoints: string[];
  /** The read's horizon: the oldest transaction still open then; every older one was read. */
  horizon: bigint;
  /** Fewer than `limit` events came back: nothing more is readable right now. */
  drained: boolean;
}

/**
 * Events in (transaction_id, position) order after `after`, only from transactions older than
 * the oldest one still open: a transaction that commits later can never hold an event that
 * sorts before what was already read, so no reader skips an event committed out of order.
 */
export async function readGlobalPage(pool: pg.Pool, s: StoreSchema, after: Checkpoint, limit = DEFAULT_READ_ALL_LIMIT): Promise<GlobalPage> {
  const from = decodeCheckpoint(after);
  const { rows } = await pool.query<EventRow & { transaction_id: string | null; horizon: string }>({
    name: `${s.schema}.readAll`,
    text: `
      WITH snap AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
      SELECT snap.xmin::text AS horizon, page.*
        FROM snap LEFT JOIN LATERAL (
          SELECT e.transaction_id::text AS transaction_id, ${EVENT_COLUMNS}
            FROM ${s.events} e
           WHERE (e.transaction_id, e.position) > ($1::xid8, $2::bigint)
             AND e.transaction_id < snap.xmin
           ORDER BY e.transaction_id, e.position
           LIMIT $3
        ) page ON true`,
    values: [from.transactionId, from.position, limit],
  });
  const horizon = BigInt(rows[0]?.horizon ?? '0');
  const events: EventEnvelope[] = [];
  const checkpoints: string[] = [];
  for (const row of rows) {
    if (row.transaction_id === null) break;
    events.push(toEnvelope(row));
    checkpoints.push(`${row.transaction_id}:${row.position}`);
  }
  return {
    events,
    checkpoints,
    checkpoint: checkpoints.length > 0 ? checkpoints[checkpoints.length - 1]! : after,
    horizon,
    drained: events.length < limit,
  };
}

/** The public readAll: a page of events and where to continue. */
export async function readAll(pool: pg.Pool, s: StoreSchema, options: { after?: Checkpoint; limit?: number } = {}): Promise<ReadAllResult> {
  const page = await readGlobalPage(pool, s, options.after ?? null, options.limit ?? DEFAULT_READ_ALL_LIMIT);
  return { events: page.events, checkpoint: page.checkpoint };
}

/** Everything committed now is covered by a drained read whose horizon reaches this mark. */
export async function currentHead(pool: pg.Pool): Promise<bigint> {
  const { rows } = await pool.query<{ xmax: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax');
  return BigInt(rows[0]!.xmax);
}
