import type pg from 'pg';
import type { Checkpoint } from '../port.js';
import type { StoreSchema } from './schema.js';

/** A position in the global order: the writing transaction's id, then the row's position. */
export interface GlobalPosition {
  transactionId: string;
  position: string;
}

const FORMAT = /^(\d+):(\d+)$/;

/** Checkpoints are opaque to callers; here they are "transactionId:position". */
export function decodeCheckpoint(checkpoint: Checkpoint): GlobalPosition {
  if (checkpoint === null) return { transactionId: '0', position: '0' };
  const match = FORMAT.exec(checkpoint);
  if (!match)
    throw new Error(`invalid PostgreSQL event store checkpoint "${checkpoint}" (expected "transactionId:position")`);
  return { transactionId: match[1]!, position: match[2]! };
}

export async function loadCheckpoint(pool: pg.Pool, s: StoreSchema, subscriberId: string): Promise<Checkpoint> {
  const { rows } = await pool.query<{ checkpoint: string | null }>(
    `SELECT checkpoint FROM ${s.checkpoints} WHERE subscriber_id = $1`,
    [subscriberId],
  );
  return rows[0]?.checkpoint ?? null;
}

export async function storeCheckpoint(
  pool: pg.Pool,
  s: StoreSchema,
  subscriberId: string,
  checkpoint: Checkpoint,
): Promise<void> {
  if (checkpoint !== null) decodeCheckpoint(checkpoint);
  await pool.query(
    `INSERT INTO ${s.checkpoints} (subscriber_id, checkpoint, updated_at) VALUES ($1, $2, now())
     ON CONFLICT (subscriber_id) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, updated_at = now()`,
    [subscriberId, checkpoint],
  );
}
