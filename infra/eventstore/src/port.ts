import type { Actor, DomainEvent, EventEnvelope } from '@pgfleet/contracts';

/**
 * Expected version of a stream for an append:
 * - 'no_stream': the stream must not exist yet;
 * - 'stream_exists': it must exist, at any version;
 * - 'any': no check;
 * - a number: the stream's current version (its number of events; 0 = no stream) must equal it.
 */
export type ExpectedVersion = 'no_stream' | 'stream_exists' | 'any' | number;

/** An event to append. `id` (UUIDv7) is the idempotency key: appending the same id twice stores it once. */
export type NewEvent<E extends DomainEvent = DomainEvent> = E & {
  id?: string;
  correlationId?: string;
  causationId?: string | null;
  actor?: Actor;
  occurredAt?: Date;
};

export interface AppendResult {
  /** The stream's version after the append (pass as expectedVersion next time). */
  nextExpectedVersion: number;
  /** The stored events (with ids, versions and positions). */
  events: EventEnvelope[];
  /** True when every event id was already stored: nothing was written. */
  alreadyAppended: boolean;
}

export interface ReadStreamOptions {
  /** First stream version to return (1-based, inclusive). */
  fromVersion?: number;
  /** Last stream version to return (inclusive). */
  toVersion?: number;
  /** Only events that occurred at or before this instant. */
  until?: Date;
}

export interface ReadStreamResult {
  events: EventEnvelope[];
  /** The stream's current version (parked events count); 0 when it does not exist. */
  currentVersion: number;
}

/**
 * A stored event the code cannot read as the current schema of its type (unknown type, a
 * version with no upcaster or newer than the code, an upcaster that fails). Reads leave it out
 * and go on past it; the store reports it once (`onParked`) and keeps a record of it.
 */
export interface ParkedEvent {
  id: string;
  streamId: string;
  streamVersion: number;
  type: string;
  /** The version it was stored at. */
  schemaVersion: number;
  /** 'UNKNOWN_EVENT_TYPE' | 'UPCAST_FAILED' | 'INVALID_EVENT' (the upcast data fails the schema). */
  code: string;
  reason: string;
}

/** An opaque position in the global order. `null` = the beginning. */
export type Checkpoint = string | null;

export interface ReadAllResult {
  events: EventEnvelope[];
  /**
   * Where to continue from: after the last event read, parked ones included (see ParkedEvent).
   * Unchanged when nothing was read.
   */
  checkpoint: Checkpoint;
}

export interface SubscribeOptions {
  /** Durable name: the checkpoint is stored under it, and resumed from on the next subscribe. */
  subscriberId: string;
  /**
   * false: start from the beginning of the global order and never store a checkpoint (an
   * in-memory projection rebuilt at every start). Default true.
   */
  durable?: boolean;
  /** Handle one event; the checkpoint advances only after it resolves. */
  handler: (event: EventEnvelope) => Promise<void> | void;
  /** Events per read. */
  batchSize?: number;
  /** Only these event types (others still advance the checkpoint). */
  types?: readonly string[];
  /** Called when a read or handler fails; the subscription retries from its checkpoint. */
  onError?: (error: unknown) => void;
}

export interface Subscription {
  /** Stops after the event in hand; the checkpoint reflects every handled event. */
  stop(): Promise<void>;
  /** Resolves once the subscriber has handled everything committed when this was called. */
  caughtUp(): Promise<void>;
}

/** The typed errors of the port. */
export class WrongExpectedVersion extends Error {
  readonly code = 'WRONG_EXPECTED_VERSION';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(`stream ${streamId} is at version ${actual}, expected ${String(expected)}`);
    this.name = 'WrongExpectedVersion';
  }
}

export class InvalidEvent extends Error {
  readonly code = 'INVALID_EVENT';
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'InvalidEvent';
  }
}

export interface EventStore {
  appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options?: { expectedVersion?: ExpectedVersion },
  ): Promise<AppendResult>;
  /**
   * Reads (readStream, readAll, subscribe) return every event upcast to the current schema
   * version of its type, and leave out the events they cannot read that way (ParkedEvent).
   */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<ReadStreamResult>;
  /** Events in global commit order after `checkpoint`; never skips one committed out of order. */
  readAll(options?: { after?: Checkpoint; limit?: number }): Promise<ReadAllResult>;
  /** Catch up from the durable checkpoint, then follow live. */
  subscribe(options: SubscribeOptions): Subscription;
  /** The stored checkpoint of a durable subscriber (or relay). */
  loadCheckpoint(subscriberId: string): Promise<Checkpoint>;
  storeCheckpoint(subscriberId: string, checkpoint: Checkpoint): Promise<void>;
  /**
   * Call `listener` when new events may be readable (after appends, from any process). A hint
   * only: it may come late, twice or for nothing, so keep a slow fallback poll. Returns the
   * function that stops the calls.
   */
  onAppended(listener: () => void): () => void;
  close(): Promise<void>;
}
