import type pg from 'pg';
import type { EventEnvelope } from '@pgfleet/contracts';
import type { Parking } from '../parking.js';
import type { Checkpoint, ParkedEvent, ReadAllResult } from '../port.js';
import { decodeCheckpoint } from './checkpoints.js';
import { EVENT_COLUMNS, readRow, type EventRow } from './rows.js';
import type { StoreSchema } from './schema.js';

const DEFAULT_READ_ALL_LIMIT = 1000;

/** A page of the global order, with what subscribers need besides the events. */
export interface GlobalPage extends ReadAllResult {
  /** The checkpoint after each event. */
  checkpoints: string[];
  /** The read's horizon: the oldest transaction still open then; every older one was read. */
  horizon: bigint;
  /** Fewer than `limit` rows came back: nothing more is readable right now. */
  drained: boolean;
}

/**
 * Events in (transaction_id, position) order after `after`, only from transactions older than
 * the oldest one still open: a transaction that commits later can never hold an event that
 * sorts before what was already read, so no reader skips an event committed out of order.
 * Events come upcast; a parked one is left out, and the page's checkpoint passes it.
 */
export async function readGlobalPage(
  pool: pg.Pool,
  s: StoreSchema,
  parking: Parking,
  after: Checkpoint,
  limit = DEFAULT_READ_ALL_LIMIT,
): Promise<GlobalPage> {
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
  const parked: ParkedEvent[] = [];
  let checkpoint = after;
  let read = 0;
  for (const row of rows) {
    if (row.transaction_id === null) break;
    read++;
    checkpoint = `${row.transaction_id}:${row.position}`;
    const outcome = readRow(row);
    if (!outcome.ok) {
      parked.push(outcome.parked);
      continue;
    }
    events.push(outcome.event);
    checkpoints.push(checkpoint);
  }
  if (parked.length > 0) await parking.park(parked);
  return { events, checkpoints, checkpoint, horizon, drained: read < limit };
}

/**
 * The public readAll: a page of events and where to continue. A page holding parked events only
 * is passed and the next one read, so an empty result means nothing more is readable now.
 */
export async function readAll(
  pool: pg.Pool,
  s: StoreSchema,
  parking: Parking,
  options: { after?: Checkpoint; limit?: number } = {},
): Promise<ReadAllResult> {
  let after = options.after ?? null;
  for (;;) {
    const page = await readGlobalPage(pool, s, parking, after, options.limit ?? DEFAULT_READ_ALL_LIMIT);
    if (page.events.length > 0 || page.drained || page.checkpoint === after)
      return { events: page.events, checkpoint: page.checkpoint };
    after = page.checkpoint;
  }
}

/** Everything committed now is covered by a drained read whose horizon reaches this mark. */
export async function currentHead(pool: pg.Pool): Promise<bigint> {
  const { rows } = await pool.query<{ xmax: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax');
  return BigInt(rows[0]!.xmax);
}
