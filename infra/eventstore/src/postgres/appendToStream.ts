import type pg from 'pg';
import type { EventEnvelope } from '@pgfleet/contracts';
import { InvalidEvent, WrongExpectedVersion, type AppendResult, type ExpectedVersion, type NewEvent } from '../port.js';
import type { Parking } from '../parking.js';
import { prepareEvents, type PreparedEvent } from '../prepareEvents.js';
import { readEventsById, readStream } from './readStream.js';
import type { StoreSchema } from './schema.js';

export interface PostgresAppendOptions {
  expectedVersion?: ExpectedVersion;
  /**
   * Test hook: runs inside the append's transaction, after the rows are written and before
   * COMMIT (holds the transaction open to commit out of order). Not for production code.
   */
  beforeCommit?: () => Promise<void>;
}

interface AppendRow {
  out_already_appended: boolean;
  out_version: string;
  out_positions: string[] | null;
}

/**
 * Append a batch to one stream in one transaction (one round trip without a hook): validate
 * every event first, lock the stream, treat a batch whose ids are all stored as already
 * appended, check the expected version, insert, bump the version (the store wakes live subscribers after the commit: see wakeUp.ts).
 */
export async function appendToStream(
  pool: pg.Pool, s: StoreSchema, parking: Parking, streamId: string, events: readonly NewEvent[],
  options: PostgresAppendOptions = {},
): Promise<AppendResult> {
  const expected = options.expectedVersion ?? 'any';
  checkExpectedVersion(expected);
  const prepared = prepareEvents(streamId, events);
  if (prepared.length === 0) {
    const { currentVersion } = await readStream(pool, s, parking, streamId, { fromVersion: Number.MAX_SAFE_INTEGER });
    if (!versionMatches(expected, currentVersion)) throw new WrongExpectedVersion(streamId, expected, currentVersion);
    return { nextExpectedVersion: currentVersion, events: [], alreadyAppended: false };
  }
  const payload = JSON.stringify(prepared.map((e) => ({
    id: e.id, type: e.type, schemaVersion: e.schemaVersion, data: e.data, occurredAt: e.occurredAt,
    correlationId: e.correlationId, causationId: e.causationId, actorKind: e.actor.kind, actorId: e.actor.id,
  })));
  const query = { name: `${s.schema}.append`, text: `SELECT * FROM ${s.appendFunction}($1, $2, $3::jsonb)`, values: [streamId, String(expected), payload] };

  let row: AppendRow;
  try {
    row = options.beforeCommit ? await inTransaction(pool, query, options.beforeCommit) : (await pool.query<AppendRow>(query)).rows[0]!;
  } catch (error) {
    throw await translateError(pool, s, parking, error, streamId, expected);
  }
  if (row.out_already_appended) {
    return { nextExpectedVersion: Number(row.out_version), events: await readEventsById(pool, s, parking, prepared.map((e) => e.id)), alreadyAppended: true };
  }
  const last = Number(row.out_version);
  const first = last - prepared.length + 1;
  const positions = row.out_positions ?? [];
  return {
    nextExpectedVersion: last,
    events: prepared.map((e, i) => toStoredEnvelope(e, streamId, first + i, positions[i]!)),
    alreadyAppended: false,
  };
}

async function inTransaction(pool: pg.Pool, query: pg.QueryConfig, beforeCommit: () => Promise<void>): Promise<AppendRow> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A connection cut while checked out (idle-in-transaction timeout, terminate) errors here.
  const onError = (error: Error) => { broken = error; };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<AppendRow>(query);
    await beforeCommit();
    await client.query('COMMIT');
    return rows[0]!;
  } catch (error) {
    await client.query('ROLLBACK').catch((e: Error) => { broken = e; });
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

function toStoredEnvelope(e: PreparedEvent, streamId: string, streamVersion: number, globalPosition: string): EventEnvelope {
  return {
    id: e.id, type: e.type, streamId, streamVersion, globalPosition, occurredAt: e.occurredAt,
    schemaVersion: e.schemaVersion, correlationId: e.correlationId, causationId: e.causationId, actor: e.actor, data: e.data,
  } as EventEnvelope;
}

async function translateError(pool: pg.Pool, s: StoreSchema, parking: Parking, error: unknown, streamId: string, expected: ExpectedVersion): Promise<unknown> {
  const pgError = error as { code?: string; detail?: string; constraint?: string; message?: string };
  switch (pgError.code) {
    case 'PF409':
      return new WrongExpectedVersion(streamId, expected, Number(pgError.detail));
    case 'PF422':
      return new InvalidEvent(`cannot append to ${streamId}: ${pgError.message} (an append is idempotent only when it repeats a whole batch)`, { field: 'id', rule: 'idempotent_batch' });
    case '23505':
      if (pgError.constraint === 'events_event_id_key') {
        return new InvalidEvent(`cannot append to ${streamId}: an event id is already stored in another stream (${pgError.detail ?? ''})`, { field: 'id', rule: 'unique' });
      }
      if (pgError.constraint === 'events_stream_version_key') {
        const { currentVersion } = await readStream(pool, s, parking, streamId, { fromVersion: Number.MAX_SAFE_INTEGER });
        return new WrongExpectedVersion(streamId, expected, currentVersion);
      }
      return error;
    default:
      return error;
  }
}

function checkExpectedVersion(expected: ExpectedVersion): void {
  if (typeof expected === 'number' ? !Number.isSafeInteger(expected) || expected < 0 : !['no_stream', 'stream_exists', 'any'].includes(expected)) {
    throw new InvalidEvent(`invalid expected version ${String(expected)}: use 'no_stream', 'stream_exists', 'any' or a version >= 0`, { field: 'expectedVersion' });
  }
}

export function versionMatches(expected: ExpectedVersion, current: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return current === 0;
  if (expected === 'stream_exists') return current > 0;
  return current === expected;
}
