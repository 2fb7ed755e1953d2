import { WrongExpectedVersionError, jsonEvent, type EventStoreDBClient, type JSONType } from '@eventstore/db-client';
import type { Parking } from '../parking.js';
import { InvalidEvent, WrongExpectedVersion, type AppendResult, type ExpectedVersion, type NewEvent } from '../port.js';
import { prepareEvents } from '../prepareEvents.js';
import { readWholeStream } from './esdbRead.js';
import { metadataOf, toExpectedRevision, versionOfRevision } from './mapping.js';

/**
 * Append to EventStoreDB: validate everything first; when the caller chose the ids, look them
 * up in the stream so a repeated batch is reported as already appended (and a partly stored
 * one refused); map EventStoreDB's expected-revision conflict to WrongExpectedVersion.
 */
export async function appendToStream(
  client: EventStoreDBClient,
  parking: Parking,
  streamId: string,
  events: readonly NewEvent[],
  expected: ExpectedVersion = 'any',
): Promise<AppendResult> {
  const prepared = prepareEvents(streamId, events);
  if (prepared.some((_, i) => events[i]!.id !== undefined) || prepared.length === 0) {
    const { events: stored, currentVersion } = await readWholeStream(client, parking, streamId);
    const byId = new Map(stored.map((e) => [e.id, e]));
    const known = prepared.filter((e) => byId.has(e.id));
    if (prepared.length === 0) return { nextExpectedVersion: currentVersion, events: [], alreadyAppended: false };
    if (known.length === prepared.length)
      return { nextExpectedVersion: currentVersion, events: known.map((e) => byId.get(e.id)!), alreadyAppended: true };
    if (known.length > 0) {
      throw new InvalidEvent(
        `cannot append to ${streamId}: ${known.length} of ${prepared.length} events are already stored ` +
          '(an append is idempotent only when it repeats a whole batch)',
        { field: 'id', rule: 'idempotent_batch' },
      );
    }
  }
  let nextRevision: bigint;
  try {
    const result = await client.appendToStream(
      streamId,
      prepared.map((e) =>
        jsonEvent({ id: e.id, type: e.type, data: e.data as JSONType, metadata: metadataOf(e) as unknown as JSONType }),
      ),
      { expectedRevision: toExpectedRevision(expected) },
    );
    nextRevision = result.nextExpectedRevision;
  } catch (error) {
    if (error instanceof WrongExpectedVersionError)
      throw new WrongExpectedVersion(streamId, expected, versionOfRevision(error.actualVersion));
    throw error;
  }
  const last = versionOfRevision(nextRevision);
  const first = last - prepared.length + 1;
  const written = (await readWholeStream(client, parking, streamId)).events.filter(
    (e) => e.streamVersion >= first && e.streamVersion <= last,
  );
  return { nextExpectedVersion: last, events: written, alreadyAppended: false };
}
