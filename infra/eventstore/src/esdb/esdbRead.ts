import { BACKWARDS, END, FORWARDS, START, StreamNotFoundError, type EventStoreDBClient } from '@eventstore/db-client';
import type { EventEnvelope } from '@pgfleet/contracts';
import type { Checkpoint, ReadStreamOptions, ReadStreamResult } from '../port.js';
import type { SourcePage } from '../subscription/runSubscription.js';
import { comparePositions, decodePosition, encodePosition, isDomainRecord, toEnvelope, type EsdbRecord } from './mapping.js';

/** Every event of a stream (pgfleet streams are short), or none when it does not exist. */
export async function readWholeStream(client: EventStoreDBClient, streamId: string): Promise<EventEnvelope[]> {
  const events: EventEnvelope[] = [];
  try {
    for await (const resolved of client.readStream(streamId, { fromRevision: START, direction: FORWARDS })) {
      if (resolved.event) events.push(toEnvelope(resolved.event as EsdbRecord));
    }
  } catch (error) {
    if (error instanceof StreamNotFoundError) return [];
    throw error;
  }
  return events;
}

export async function readStream(client: EventStoreDBClient, streamId: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
  const all = await readWholeStream(client, streamId);
  const from = options.fromVersion ?? 1;
  const to = options.toVersion ?? Number.MAX_SAFE_INTEGER;
  const until = options.until?.getTime();
  const events = all.filter((e) => e.streamVersion >= from && e.streamVersion <= to && (until === undefined || Date.parse(e.occurredAt) <= until));
  return { events, currentVersion: all.length > 0 ? all[all.length - 1]!.streamVersion : 0 };
}

/**
 * A page of $all after `after`: pgfleet events only, but the checkpoint passes the others
 * (system events, checkpoints) too. Keeps reading until it has an event or reaches the end.
 */
export async function readAllPage(client: EventStoreDBClient, after: Checkpoint, limit: number): Promise<SourcePage> {
  const events: EventEnvelope[] = [];
  const checkpoints: string[] = [];
  let position = decodePosition(after);
  for (;;) {
    let raw = 0;
    for await (const resolved of client.readAll({ fromPosition: position ?? START, direction: FORWARDS, maxCount: limit + 1 })) {
      const record = resolved.event as EsdbRecord | undefined;
      if (!record?.position || (position && comparePositions(record.position, position) <= 0)) continue;
      raw++;
      position = record.position;
      if (!isDomainRecord(record)) continue;
      events.push(toEnvelope(record));
      checkpoints.push(encodePosition(record.position));
      if (events.length === limit) break;
    }
    const drained = events.length < limit && raw < limit;
    if (events.length > 0 || drained) {
      return { events, checkpoints, checkpoint: position ? encodePosition(position) : after, drained, horizon: position?.commit ?? 0n };
    }
  }
}

/** The commit position of the last record in $all (0 when empty). */
export async function headPosition(client: EventStoreDBClient): Promise<bigint> {
  for await (const resolved of client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 })) {
    if (resolved.event?.position) return resolved.event.position.commit;
  }
  return 0n;
}
