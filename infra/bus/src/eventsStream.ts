import {
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { EVENTS_STREAM, EVENTS_SUBJECT_ROOT } from '@pgfleet/contracts';

/**
 * Window in which JetStream drops a second message with the same `Nats-Msg-Id`. The relay
 * republishes an unacknowledged batch until it is acknowledged; every retry of a batch happens
 * well inside this window, so a retry never stores an event twice.
 */
export const EVENTS_DUPLICATE_WINDOW_MS = 10 * 60_000;

export interface EventsStreamOptions {
  /** Stream replicas (1 locally; 3 on a NATS cluster). */
  replicas?: number;
  /** Oldest event kept, in ms (default: keep forever; the event store is the truth). */
  maxAgeMs?: number;
}

export function eventsStreamConfig(opts: EventsStreamOptions = {}): Partial<StreamConfig> & { name: string } {
  return {
    name: EVENTS_STREAM,
    subjects: [`${EVENTS_SUBJECT_ROOT}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(EVENTS_DUPLICATE_WINDOW_MS),
    max_age: nanos(opts.maxAgeMs ?? 0),
    num_replicas: opts.replicas ?? 1,
  };
}

/**
 * Create the `PGFLEET_EVENTS` stream, or update it to the current configuration (idempotent, safe from several
 * processes).
 */
export async function ensureEventsStream(jsm: JetStreamManager, opts: EventsStreamOptions = {}): Promise<StreamInfo> {
  const config = eventsStreamConfig(opts);
  try {
    // Creating a stream that exists with the same configuration succeeds and changes nothing.
    return await jsm.streams.add(config);
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || error.code !== STREAM_NAME_IN_USE) throw error;
  }
  const { name, storage: _storage, ...update } = config;
  return jsm.streams.update(name, update);
}

/** JetStream API error: "stream name already in use with a different configuration". */
const STREAM_NAME_IN_USE = 10058;
