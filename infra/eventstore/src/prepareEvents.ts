import {
  EVENTS,
  EnvelopeMeta,
  uuidv7,
  validateEvent,
  zodRejection,
  type Actor,
  type EventType,
} from '@pgfleet/contracts';
import { InvalidEvent, type NewEvent } from './port.js';

/** The actor of events appended without one. */
export const SYSTEM_ACTOR: Actor = Object.freeze({ kind: 'system', id: 'pgfleet' }) as Actor;

/** An event ready to store: validated data and every envelope field the store does not assign. */
export interface PreparedEvent {
  id: string;
  type: string;
  data: unknown;
  schemaVersion: number;
  occurredAt: string;
  correlationId: string;
  causationId: string | null;
  actor: Actor;
}

const StreamId = EnvelopeMeta.shape.streamId;
const AppendMeta = EnvelopeMeta.pick({ id: true, correlationId: true, causationId: true, actor: true });

/**
 * Validate a batch before anything is written and fill in the envelope defaults: a fresh
 * UUIDv7 id, correlation = the event's own id, no causation, the system actor, occurred now.
 * The first malformed event refuses the whole batch with an InvalidEvent naming the field.
 */
export function prepareEvents(streamId: string, events: readonly NewEvent[], now: Date = new Date()): PreparedEvent[] {
  const stream = StreamId.safeParse(streamId);
  if (!stream.success) {
    const rejection = zodRejection(stream.error, `stream id "${streamId}"`, 'INVALID_EVENT');
    throw new InvalidEvent(rejection.message, { ...rejection.details, field: 'streamId' });
  }
  const seen = new Set<string>();
  const nowIso = now.toISOString();
  return events.map((event, index) => {
    const valid = validateEvent(event.type, event.data);
    if (!valid.ok)
      throw new InvalidEvent(valid.rejection.message, { ...valid.rejection.details, index, type: event.type });
    const id = event.id ?? uuidv7(now.getTime());
    const correlationId = event.correlationId ?? id;
    const causationId = event.causationId ?? null;
    const actor = event.actor ?? SYSTEM_ACTOR;
    if (
      event.id !== undefined ||
      event.correlationId !== undefined ||
      event.causationId !== undefined ||
      event.actor !== undefined
    ) {
      const parsed = AppendMeta.safeParse({ id, correlationId, causationId, actor });
      if (!parsed.success) {
        const rejection = zodRejection(parsed.error, `${event.type} event envelope`, 'INVALID_EVENT');
        throw new InvalidEvent(rejection.message, { ...rejection.details, index, type: event.type });
      }
    }
    if (seen.has(id))
      throw new InvalidEvent(`event id ${id} appears twice in one append`, { field: 'id', rule: 'unique', index });
    seen.add(id);
    const occurredAt = event.occurredAt ?? now;
    if (!(occurredAt instanceof Date) || Number.isNaN(occurredAt.getTime())) {
      throw new InvalidEvent(`invalid ${event.type} event envelope: occurredAt: must be a valid Date`, {
        field: 'occurredAt',
        index,
      });
    }
    // A literal, not a spread: on Node 20 `{ ...meta, more }` costs microseconds per object.
    return {
      id,
      correlationId,
      causationId,
      actor,
      type: valid.value.type,
      data: valid.value.data,
      schemaVersion: EVENTS[valid.value.type as EventType].schemaVersion,
      occurredAt: occurredAt === now ? nowIso : occurredAt.toISOString(),
    };
  });
}
