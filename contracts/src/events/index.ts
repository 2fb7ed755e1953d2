import type { z } from 'zod';
import { backupEvents } from './backup.js';
import { clusterEvents } from './cluster.js';
import { nameEvents } from './names.js';
import { gatewayEvents } from './gateway.js';

/**
 * Every event type of the system: its data schema, the stream category it lives in and the
 * current schema version. Adding a type here makes the compiler list every exhaustive switch.
 */
export const EVENTS = {
  ...withCategory('cluster', clusterEvents),
  ...withCategory('backups', backupEvents),
  ...withCategory('names', nameEvents),
  ...withCategory('gateway', gatewayEvents),
} as const;

function withCategory<C extends string, M extends Record<string, z.ZodType>>(category: C, schemas: M) {
  const out = {} as { [K in keyof M]: { category: C; schemaVersion: number; schema: M[K] } };
  for (const key of Object.keys(schemas) as (keyof M)[]) {
    out[key] = { category, schemaVersion: 1, schema: schemas[key] };
  }
  return out;
}

export type EventType = keyof typeof EVENTS;
export type EventData<T extends EventType> = z.infer<(typeof EVENTS)[T]['schema']>;
export const EVENT_TYPES = Object.keys(EVENTS) as EventType[];

/** The discriminated union of every domain event: `{ type, data }`. */
export type DomainEvent = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];
export type EventOfType<T extends EventType> = Extract<DomainEvent, { type: T }>;

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENTS, type);
}

/**
 * Upcasters: how to read an old schema version of a type as the current one. Empty while every
 * type is at version 1; a breaking change bumps `schemaVersion` above and adds a step here.
 */
export const UPCASTERS: Partial<Record<EventType, Record<number, (data: unknown) => unknown>>> = {};

export function upcast(type: EventType, schemaVersion: number, data: unknown): unknown {
  let current = data;
  for (let v = schemaVersion; v < EVENTS[type].schemaVersion; v++) {
    const step = UPCASTERS[type]?.[v];
    if (!step) throw new Error(`no upcaster for ${type} v${v}`);
    current = step(current);
  }
  return current;
}

export { clusterEvents, backupEvents, nameEvents, gatewayEvents };
export * from './cluster.js';
export * from './backup.js';
export * from './gateway.js';
