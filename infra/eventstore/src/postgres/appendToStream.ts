import type pg from 'pg';
import type { EventEnvelope } from '@pgfleet/contracts';
import type { Parking } from '../parking.js';
import { InvalidEvent, WrongExpectedVersion, type AppendResult, type ExpectedVersion, type NewEvent } from '../port.js';
import { prepareEvents, type PreparedEvent } from '../prepareEvents.js';
import { appendBatch, type AppendOutcome, type PendingAppend } from './appendBatch.js';
import type { AppendQueue } from './appendQueue.js';
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

/** What an append needs of the store. */
export interface AppendDeps {
  pool: pg.Pool;
  s: StoreSchema;
  parking: Parking;
  queue: AppendQueue;
}

/**
 * Append a batch to one stream in one transaction: validate every event first, then append_batch
 * locks the stream, checks the expected version, inserts and bumps the version; concurrent appends
 * of this process share that call and its commit (appendQueue.ts). Idempotency costs nothing on
 * that path: a stored event id fails the insert (unique), and only a failed append whose caller
 * chose ids looks them up (alreadyAppendedOrNot). The store wakes subscribers after the commit.
 */
export async function appendToStream(
  deps: AppendDeps,
  streamId: string,
  events: readonly NewEvent[],
  options: PostgresAppendOptions = {},
): Promise<AppendResult> {
  const { pool, s, parking } = deps;
  const expected = options.expectedVersion ?? 'any';
  checkExpectedVersion(expected);
  const prepared = prepareEvents(streamId, events);
  if (prepared.length === 0) {
    const { currentVersion } = await readStream(pool, s, parking, streamId, { fromVersion: Number.MAX_SAFE_INTEGER });
    if (!versionMatches(expected, currentVersion)) throw new WrongExpectedVersion(streamId, expected, currentVersion);
    return { nextExpectedVersion: currentVersion, events: [], alreadyAppended: false };
  }
  const pending: PendingAppend = { streamId, expected, events: prepared };
  let outcome: AppendOutcome;
  try {
    outcome = options.beforeCommit
      ? await inTransaction(pool, (client) => appendBatch(client, s, [pending]).then(([o]) => o!), options.beforeCommit)
      : await deps.queue.append(pending);
  } catch (error) {
    return alreadyAppendedOrNot(deps, error, pending, events.some((e) => e.id !== undefined));
  }
  if (!outcome.stored) {
    const conflict = new WrongExpectedVersion(streamId, expected, outcome.actualVersion);
    return alreadyAppendedOrNot(deps, conflict, pending, events.some((e) => e.id !== undefined));
  }
  const first = outcome.version - prepared.length + 1;
  return {
    nextExpectedVersion: outcome.version,
    events: prepared.map((e, i) => toStoredEnvelope(e, streamId, first + i, outcome.positions[i]!)),
    alreadyAppended: false,
  };
}

async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  beforeCommit: () => Promise<void>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A connection cut while checked out (idle-in-transaction timeout, terminate) errors here.
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await beforeCommit();
    await client.query('COMMIT');
    return result;
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
 * A failed append (a version conflict, or an error): when the caller chose the ids and all of them
 * are stored in this stream, the batch was appended before (a retry) and is answered as such;
 * when some are, it is refused (an append is idempotent only as a whole batch). Otherwise the
 * failure stands, as a typed error: a version conflict, or an id stored in another stream.
 * Nothing of the batch was written.
 */
async function alreadyAppendedOrNot(
  deps: AppendDeps,
  error: unknown,
  append: PendingAppend,
  chosenIds: boolean,
): Promise<AppendResult> {
  const { pool, s, parking } = deps;
  const { streamId } = append;
  const pgError = error as { code?: string; detail?: string; constraint?: string };
  const idTaken = pgError.code === '23505' && pgError.constraint === 'events_event_id_key';
  if (chosenIds && (error instanceof WrongExpectedVersion || idTaken)) {
    const ids = append.events.map((e) => e.id);
    const { rows } = await pool.query<{ stored: number; version: string | null }>(
      `SELECT (SELECT count(*)::integer FROM ${s.events} WHERE stream_id = $1 AND event_id = ANY($2::uuid[])) AS stored,
              (SELECT version::text FROM ${s.streams} WHERE stream_id = $1) AS version`,
      [streamId, ids],
    );
    const { stored, version } = rows[0]!;
    if (stored === ids.length) {
      const events = await readEventsById(pool, s, parking, ids);
      return { nextExpectedVersion: Number(version), events, alreadyAppended: true };
    }
    if (stored > 0) {
      throw new InvalidEvent(
        `cannot append to ${streamId}: ${stored} of ${ids.length} events are already stored in stream ${streamId} ` +
          '(an append is idempotent only when it repeats a whole batch)',
        { field: 'id', rule: 'idempotent_batch' },
      );
    }
  }
  if (idTaken) {
    throw new InvalidEvent(
      `cannot append to ${streamId}: an event id is already stored in another stream (${pgError.detail ?? ''})`,
      { field: 'id', rule: 'unique' },
    );
  }
  if (pgError.code === '23505' && pgError.constraint === 'events_stream_version_key') {
    const { currentVersion } = await readStream(pool, s, parking, streamId, { fromVersion: Number.MAX_SAFE_INTEGER });
    throw new WrongExpectedVersion(streamId, append.expected, currentVersion);
  }
  throw error;
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

export function versionMatches(expected: ExpectedVersion, current: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return current === 0;
  if (expected === 'stream_exists') return current > 0;
  return current === expected;
}
