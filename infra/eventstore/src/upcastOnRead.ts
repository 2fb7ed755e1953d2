import { EVENTS, isEventType, validateEvent, type EventEnvelope } from '@pgfleet/contracts';
import type { ParkedEvent } from './port.js';

/** An event as stored: its envelope at the schema version it was written with, type unchecked. */
export type StoredEnvelope = Omit<EventEnvelope, 'type' | 'data'> & { type: string; data: unknown };

/** A stored event as the code reads it: the current shape of its type, or parked. */
export type ReadOutcome = { ok: true; event: EventEnvelope } | { ok: false; parked: ParkedEvent };

/**
 * Read a stored event as the current schema version of its type: an old version is upcast and
 * the result checked against the schema; the envelope then carries the current version. An event
 * already at the current version passes as stored (it was validated when appended). An event of
 * an unknown type, of a version nothing upcasts, or whose upcaster fails is parked, never thrown.
 */
export function upcastOnRead(stored: StoredEnvelope): ReadOutcome {
  if (isEventType(stored.type) && stored.schemaVersion === EVENTS[stored.type].schemaVersion) {
    return { ok: true, event: stored as EventEnvelope };
  }
  try {
    const valid = validateEvent(stored.type, stored.data, stored.schemaVersion);
    if (!valid.ok) return parked(stored, valid.rejection.code, valid.rejection.message);
    const schemaVersion = EVENTS[valid.value.type].schemaVersion;
    return { ok: true, event: { ...stored, ...valid.value, schemaVersion } as EventEnvelope };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return parked(stored, 'UPCAST_FAILED', `upcasting ${stored.type} v${stored.schemaVersion} failed: ${message}`);
  }
}

function parked(stored: StoredEnvelope, code: string, reason: string): ReadOutcome {
  const { id, streamId, streamVersion, type, schemaVersion } = stored;
  return { ok: false, parked: { id, streamId, streamVersion, type, schemaVersion, code, reason } };
}
