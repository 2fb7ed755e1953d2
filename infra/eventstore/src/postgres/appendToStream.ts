import type pg from 'pg';
import type { EventEnvelope } from '@pgfleet/contracts';
import type { Parking } from '../parking.js';
import { InvalidEvent, WrongExpectedVersion, type AppendResult, type ExpectedVersion, type NewEvent } from '../port.js';
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
  out_version: string;
  out_positions: string[];
}

/**
 * Append a batch to one stream in one transaction (one round trip without a hook): validate
 * every event first, then one call of append_events locks the stream, checks the expected
 * version, inserts and bumps the version. Idempotency costs nothing on that path: a stored event
 * id fails the insert (unique), and only a failed append whose caller chose ids looks them up
 * (alreadyAppendedOrNot). The store wakes live subscribers after the commit: see wakeUp.ts.
 */
export async function appendToStream(
  pool: pg.Pool,
  s: StoreSchema,
  parking: Parking,
  streamId: string,
  events: readonly NewEvent[],
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
  const query = {
    name: `${s.schema}.appendEvents`,
    text: `SELECT out_version::text, out_positions FROM ${s.appendEvents}($1, $2, $3::jsonb)`,
    values: [streamId, String(expected), payloadOf(prepared)],
  };
  let row: AppendRow;
  try {
    row = options.beforeCommit
      ? await inTransaction(pool, query, options.beforeCommit)
      : (await pool.query<AppendRow>(query)).rows[0]!;
  } catch (error) {
    const chosenIds = events.some((e) => e.id !== undefined);
    return alreadyAppendedOrNot(
      pool,
      s,
      parking,
      error,
      streamId,
      expected,
      chosenIds ? prepared.map((e) => e.id) : [],
    );
  }
  const last = Number(row.out_version);
  const first = last - prepared.length + 1;
  return {
    nextExpectedVersion: last,
    events: prepared.map((e, i) => toStoredEnvelope(e, streamId, first + i, row.out_positions[i]!)),
    alreadyAppended: false,
  };
}

/** The events as append_events reads them (jsonb_to_recordset keys). */
function payloadOf(prepared: readonly PreparedEvent[]): string {
  return JSON.stringify(
    prepared.map((e) => ({
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
  );
}

async function inTransaction(
  pool: pg.Pool,
  query: pg.QueryConfig,
  beforeCommit: () => Promise<void>,
): Promise<AppendRow> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A connection cut while checked out (idle-in-transaction timeout, terminate) errors here.
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<AppendRow>(query);
    await beforeCommit();
    await client.query('COMMIT');
    return rows[0]!;
  } catch (error) {
    await client.query('ROLLBACK').catch((e: Error) => {
      broken = e;
    });
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

function toStoredEnvelope(
  e: PreparedEvent,
  streamId: string,
  streamVersion: number,
  globalPosition: string,
): EventEnvelope {
  return {
    id: e.id,
    type: e.type,
    streamId,
    streamVersion,
    globalPosition,
    occurredAt: e.occurredAt,
    schemaVersion: e.schemaVersion,
    correlationId: e.correlationId,
    causationId: e.causationId,
    actor: e.actor,
    data: e.data,
  } as EventEnvelope;
}

/**
 * A failed append: when the caller chose the ids and all of them are stored in this stream, the
 * batch was appended before (a retry) and is answered as such; when some are, it is refused
 * (an append is idempotent only as a whole batch). Otherwise the failure stands, as a typed
 * error: a version conflict, or an id stored in another stream. Nothing of the batch was written.
 */
async function alreadyAppendedOrNot(
  pool: pg.Pool,
  s: StoreSchema,
  parking: Parking,
  error: unknown,
  streamId: string,
  expected: ExpectedVersion,
  chosenIds: readonly string[],
): Promise<AppendResult> {
  const pgError = error as { code?: string; detail?: string; constraint?: string };
  const conflict =
    pgError.code === 'PF409' || (pgError.code === '23505' && pgError.constraint === 'events_event_id_key');
  if (conflict && chosenIds.length > 0) {
    const { rows } = await pool.query<{ stored: number; version: string | null }>(
      `SELECT (SELECT count(*)::integer FROM ${s.events} WHERE stream_id = $1 AND event_id = ANY($2::uuid[])) AS stored,
              (SELECT version::text FROM ${s.streams} WHERE stream_id = $1) AS version`,
      [streamId, chosenIds],
    );
    const { stored, version } = rows[0]!;
    if (stored === chosenIds.length) {
      return {
        nextExpectedVersion: Number(version),
        events: await readEventsById(pool, s, parking, chosenIds),
        alreadyAppended: true,
      };
    }
    if (stored > 0) {
      throw new InvalidEvent(
        `cannot append to ${streamId}: ${stored} of ${chosenIds.length} events are already stored in ` +
          `stream ${streamId} (an append is idempotent only when it repeats a whole batch)`,
        { field: 'id', rule: 'idempotent_batch' },
      );
    }
  }
  throw await translateError(pool, s, parking, error, streamId, expected);
}

async function translateError(
  pool: pg.Pool,
  s: StoreSchema,
  parking: Parking,
  error: unknown,
  streamId: string,
  expected: ExpectedVersion,
): Promise<unknown> {
  const pgError = error as { code?: string; detail?: string; constraint?: string; message?: string };
  switch (pgError.code) {
    case 'PF409':
      return new WrongExpectedVersion(streamId, expected, Number(pgError.detail));
    case '23505':
      if (pgError.constraint === 'events_event_id_key') {
        return new InvalidEvent(
          `cannot append to ${streamId}: an event id is already stored in another stream (${pgError.detail ?? ''})`,
          { field: 'id', rule: 'unique' },
        );
      }
      if (pgError.constraint === 'events_stream_version_key') {
        const { currentVersion } = await readStream(pool, s, parking, streamId, {
          fromVersion: Number.MAX_SAFE_INTEGER,
        });
        return new WrongExpectedVersion(streamId, expected, currentVersion);
      }
      return error;
    default:
      return error;
  }
}

function checkExpectedVersion(expected: ExpectedVersion): void {
  if (
    typeof expected === 'number'
      ? !Number.isSafeInteger(expected) || expected < 0
      : !['no_stream', 'stream_exists', 'any'].includes(expected)
  ) {
    throw new InvalidEvent(
      `invalid expected version ${String(expected)}: use 'no_stream', 'stream_exists', 'any' or a version >= 0`,
      { field: 'expectedVersion' },
    );
  }
}

function versionMatches(expected: ExpectedVersion, current: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return current === 0;
  if (expected === 'stream_exists') return current > 0;
  return current === expected;
}
