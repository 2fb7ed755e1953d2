import { z } from 'zod';
import { EVENTS, isEventType, UpcastError, upcast, type DomainEvent, type EventType } from './events/index.js';
import { zodRejection, type Result } from './validation.js';

/**
 * Who caused an event or sent a command: `account` (an account's token, id = the account),
 * `admin` (the platform's admin token), `service` (a service on its own: id = its name), `system`
 * (schedules, the platform). `user` is what the API recorded before accounts (`user:api`): old
 * events keep it.
 */
export const Actor = z.object({
  kind: z.enum(['account', 'admin', 'service', 'system', 'user']),
  id: z.string().min(1),
});
export type Actor = z.infer<typeof Actor>;

/** The admin token's actor: shown as `admin`. */
export const ADMIN_ACTOR: Actor = { kind: 'admin', id: 'admin' };

/** How an actor is shown: `account:acme`, `admin`, `service:backup`, `system:billing`, `user:api`. */
export const actorLabel = (actor: Actor): string => (actor.kind === 'admin' ? 'admin' : `${actor.kind}:${actor.id}`);

/** Metadata every event carries, besides its type and data. */
export const EnvelopeMeta = z.object({
  id: z.uuid({ version: 'v7' }),
  streamId: z.string().regex(/^[a-z]+-[A-Za-z0-9_-]+$/, 'must be "{category}-{id}"'),
  streamVersion: z.number().int().positive(),
  globalPosition: z.string().regex(/^\d+$/),
  occurredAt: z.iso.datetime({ offset: true }),
  schemaVersion: z.number().int().positive(),
  correlationId: z.string().min(1),
  causationId: z.string().min(1).nullable(),
  actor: Actor,
});
export type EnvelopeMeta = z.infer<typeof EnvelopeMeta>;

/** An event as stored and published: metadata plus `{ type, data }`. */
export type EventEnvelope<E extends DomainEvent = DomainEvent> = EnvelopeMeta & E;

/** The wire schema of an envelope (data checked separately against the type's schema). */
export const EnvelopeWire = EnvelopeMeta.extend({ type: z.string(), data: z.unknown() });

/** Validate an event's data against the schema of its type (after upcasting old versions). */
export function validateEvent(type: string, data: unknown, schemaVersion?: number): Result<DomainEvent> {
  // A type that is not a string (from JSON: an object, even one whose toString is no function) is unknown too.
  if (typeof type !== 'string' || !isEventType(type)) {
    return {
      ok: false,
      rejection: {
        code: 'UNKNOWN_EVENT_TYPE',
        message: `unknown event type ${typeof type === 'string' ? `"${type}"` : `(a ${typeof type})`}`,
        details: { field: 'type', rule: 'known_event_type' },
      },
    };
  }
  let current = data;
  try {
    if (schemaVersion !== undefined) current = upcast(type, schemaVersion, data);
  } catch (error) {
    if (!(error instanceof UpcastError)) throw error;
    return {
      ok: false,
      rejection: { code: error.code, message: error.message, details: { field: 'schemaVersion', rule: 'upcastable' } },
    };
  }
  const parsed = EVENTS[type].schema.safeParse(current);
  if (!parsed.success) return { ok: false, rejection: zodRejection(parsed.error, `${type} event`, 'INVALID_EVENT') };
  return { ok: true, value: { type, data: parsed.data } as DomainEvent };
}

/** Parse a full envelope from the wire (NATS message, HTTP body). */
export function parseEnvelope(input: unknown): Result<EventEnvelope> {
  const meta = EnvelopeWire.safeParse(input);
  if (!meta.success) return { ok: false, rejection: zodRejection(meta.error, 'event envelope', 'INVALID_EVENT') };
  const event = validateEvent(meta.data.type, meta.data.data, meta.data.schemaVersion);
  if (!event.ok) return event;
  return { ok: true, value: { ...meta.data, ...event.value } as EventEnvelope };
}

export function categoryOf(type: EventType): string {
  return EVENTS[type].category;
}
