import type { DomainEvent, EventEnvelope } from '@pgfleet/contracts';
import {
  WrongExpectedVersion,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
} from '@pgfleet/eventstore';

/**
 * A minimal in-memory stand-in for the EventStore port (stream read and append only), for the
 * kit's pure unit tests. `beforeAppend` lets a test slip in a concurrent writer.
 */
export function memoryStore(hooks: { beforeAppend?: (streamId: string) => void } = {}) {
  const streams = new Map<string, EventEnvelope[]>();
  const appends: { streamId: string; expectedVersion: ExpectedVersion | undefined }[] = [];
  let position = 0;

  const write = (streamId: string, events: readonly NewEvent[]): EventEnvelope[] => {
    const stream = streams.get(streamId) ?? [];
    const stored = events.map((e, i) => ({
      id: e.id ?? `00000000-0000-7000-8000-${String(++position).padStart(12, '0')}`,
      type: e.type,
      data: e.data,
      streamId,
      streamVersion: stream.length + i + 1,
      globalPosition: String(position),
      occurredAt: '2025-01-01T00:00:00.000Z',
      schemaVersion: 1,
      correlationId: e.correlationId ?? 'none',
      causationId: e.causationId ?? null,
      actor: e.actor ?? { kind: 'system', id: 'test' },
    })) as EventEnvelope[];
    streams.set(streamId, [...stream, ...stored]);
    return stored;
  };

  const store = {
    async readStream(streamId: string) {
      const events = streams.get(streamId) ?? [];
      return { events: [...events], currentVersion: events.length };
    },
    async appendToStream(
      streamId: string,
      events: readonly NewEvent[],
      options: { expectedVersion?: ExpectedVersion } = {},
    ): Promise<AppendResult> {
      appends.push({ streamId, expectedVersion: options.expectedVersion });
      hooks.beforeAppend?.(streamId);
      const actual = streams.get(streamId)?.length ?? 0;
      const expected = options.expectedVersion ?? 'any';
      const ok =
        expected === 'any' ||
        (expected === 'no_stream' ? actual === 0 : expected === 'stream_exists' ? actual > 0 : expected === actual);
      if (!ok) throw new WrongExpectedVersion(streamId, expected, actual);
      const stored = write(streamId, events);
      return { nextExpectedVersion: actual + events.length, events: stored, alreadyAppended: false };
    },
  };
  return {
    store: store as unknown as EventStore,
    appends,
    /** Append as another writer would, bypassing hooks. */
    sneakIn: (streamId: string, event: DomainEvent) => void write(streamId, [event]),
    events: (streamId: string) => streams.get(streamId) ?? [],
  };
}
