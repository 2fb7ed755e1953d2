import { BACKWARDS, END, FORWARDS, START, StreamNotFoundError, type EventStoreDBClient } from '@eventstore/db-client';
import type { EventEnvelope } from '@pgfleet/contracts';
import type { Parking } from '../parking.js';
import type { Checkpoint, ParkedEvent, ReadStreamOptions, ReadStreamResult } from '../port.js';
import type { SourcePage } from '../subscription/runSubscription.js';
import {
  comparePositions,
  decodePosition,
  encodePosition,
  isDomainRecord,
  toEnvelope,
  type EsdbRecord,
} from './mapping.js';

/** A whole stream as read: its readable events, and its version (parked events count). */
export interface WholeStream {
  events: EventEnvelope[];
  currentVersion: number;
}

/** Every event of a stream (pgfleet streams are short), or none when it does not exist. */
export async function readWholeStream(
  client: EventStoreDBClient,
  parking: Parking,
  streamId: string,
): Promise<WholeStream> {
  const events: EventEnvelope[] = [];
  const parked: ParkedEvent[] = [];
  let currentVersion = 0;
  try {
    for await (const resolved of client.readStream(streamId, { fromRevision: START, direction: FORWARDS })) {
      if (!resolved.event) continue;
      const record = resolved.event as EsdbRecord;
      currentVersion = Number(record.revision) + 1;
      const read = toEnvelope(record);
      if (read.ok) events.push(read.event);
      else parked.push(read.parked);
    }
  } catch (error) {
    if (error instanceof StreamNotFoundError) return { events: [], currentVersion: 0 };
    throw error;
  }
  if (parked.length > 0) await parking.park(parked);
  return { events, currentVersion };
}

export async function readStream(
  client: EventStoreDBClient,
  parking: Parking,
  streamId: string,
  options: ReadStreamOptions = {},
): Promise<ReadStreamResult> {
  const { events: all, currentVersion } = await readWholeStream(client, parking, streamId);
  const from = options.fromVersion ?? 1;
  const to = options.toVersion ?? Number.MAX_SAFE_INTEGER;
  const until = options.until?.getTime();
  const events = all.filter(
    (e) =>
      e.streamVersion >= from && e.streamVersion <= to && (until === undefined || Date.parse(e.occurredAt) <= until),
  );
  return { events, currentVersion };
}

/** A page of $all, and how many pgfleet events it passed without returning them (parked). */
export interface EsdbPage extends SourcePage {
  parked: number;
}

/**
 * A page of $all after `after`: pgfleet events only, but the checkpoint passes the others
 * (system events, checkpoints, parked events) too. Keeps reading until it has an event or
 * reaches the end.
 */
export async function readAllPage(
  client: EventStoreDBClient,
  parking: Parking,
  after: Checkpoint,
  limit: number,
): Promise<EsdbPage> {
  const events: EventEnvelope[] = [];
  const checkpoints: string[] = [];
  const parked: ParkedEvent[] = [];
  let position = decodePosition(after);
  for (;;) {
    let raw = 0;
    const options = { fromPosition: position ?? START, direction: FORWARDS, maxCount: limit + 1 } as const;
    for await (const resolved of client.readAll(options)) {
      const record = resolved.event as EsdbRecord | undefined;
      if (!record?.position || (position && comparePositions(record.position, position) <= 0)) continue;
      raw++;
      position = record.position;
      if (!isDomainRecord(record)) continue;
      const read = toEnvelope(record);
      if (!read.ok) {
        parked.push(read.parked);
        continue;
      }
      events.push(read.event);
      checkpoints.push(encodePosition(record.position));
      if (events.length === limit) break;
    }
    const drained = events.length < limit && raw < limit;
    if (events.length > 0 || drained) {
      if (parked.length > 0) await parking.park(parked);
      const checkpoint = position ? encodePosition(position) : after;
      return { events, checkpoints, checkpoint, drained, horizon: position?.commit ?? 0n, parked: parked.length };
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
