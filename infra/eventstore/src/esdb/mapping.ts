import { ANY, NO_STREAM, STREAM_EXISTS, type AppendExpectedRevision, type Position } from '@eventstore/db-client';
import type { Actor } from '@pgfleet/contracts';
import type { Checkpoint, ExpectedVersion } from '../port.js';
import type { PreparedEvent } from '../prepareEvents.js';
import { upcastOnRead, type ReadOutcome, type StoredEnvelope } from '../upcastOnRead.js';
import { CHECKPOINT_STREAM_PREFIX } from './esdbCheckpoints.js';

/** What pgfleet keeps in an EventStoreDB event's metadata (type, id and data are native). */
export interface EsdbMetadata {
  schemaVersion: number;
  occurredAt: string;
  correlationId: string;
  causationId: string | null;
  actor: Actor;
}

/** The subset of an EventStoreDB recorded event the adapter reads. */
export interface EsdbRecord {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  data: unknown;
  metadata: unknown;
  position?: Position;
}

/** Our versions count events (0 = no stream); EventStoreDB revisions are 0-based. */
export function toExpectedRevision(expected: ExpectedVersion): AppendExpectedRevision {
  if (expected === 'any') return ANY;
  if (expected === 'no_stream' || expected === 0) return NO_STREAM;
  if (expected === 'stream_exists') return STREAM_EXISTS;
  return BigInt(expected - 1);
}

export function versionOfRevision(revision: bigint | 'no_stream' | string): number {
  return typeof revision === 'bigint' ? Number(revision) + 1 : 0;
}

export function metadataOf(event: PreparedEvent): EsdbMetadata {
  return {
    schemaVersion: event.schemaVersion,
    occurredAt: event.occurredAt,
    correlationId: event.correlationId,
    causationId: event.causationId,
    actor: event.actor,
  };
}

/**
 * pgfleet's own events: not system events ($...), not checkpoints. Their type may be unknown to
 * this code: reading such an event parks it (see toEnvelope), it is not skipped silently.
 */
export function isDomainRecord(record: EsdbRecord): boolean {
  return (
    !record.streamId.startsWith('$') &&
    !record.type.startsWith('$') &&
    !record.streamId.startsWith(CHECKPOINT_STREAM_PREFIX)
  );
}

/** A recorded event as the code reads it: upcast to the current schema of its type, or parked. */
export function toEnvelope(record: EsdbRecord): ReadOutcome {
  return upcastOnRead(toStoredEnvelope(record));
}

function toStoredEnvelope(record: EsdbRecord): StoredEnvelope {
  const meta = (record.metadata ?? {}) as Partial<EsdbMetadata>;
  return {
    id: record.id,
    type: record.type,
    streamId: record.streamId,
    streamVersion: Number(record.revision) + 1,
    // The prepare position: unique per event (events of one append share a commit position).
    // Servers before 22.6 omit positions on stream reads.
    globalPosition: record.position ? record.position.prepare.toString() : '0',
    occurredAt: meta.occurredAt ?? new Date(0).toISOString(),
    schemaVersion: meta.schemaVersion ?? 1,
    correlationId: meta.correlationId ?? record.id,
    causationId: meta.causationId ?? null,
    actor: meta.actor ?? { kind: 'system', id: 'pgfleet' },
    data: record.data,
  } as StoredEnvelope;
}

/** Checkpoints are "commit:prepare" positions in $all. */
export function encodePosition(position: Position): string {
  return `${position.commit}:${position.prepare}`;
}

export function decodePosition(checkpoint: Checkpoint): Position | undefined {
  if (checkpoint === null) return undefined;
  const match = /^(\d+):(\d+)$/.exec(checkpoint);
  if (!match) throw new Error(`invalid EventStoreDB checkpoint "${checkpoint}" (expected "commit:prepare")`);
  return { commit: BigInt(match[1]!), prepare: BigInt(match[2]!) };
}

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}
